"""A private PulseAudio server with a null sink, for tests that capture real device audio.

Needs Debian's ``pulseaudio`` (with ``pactl`` and ``paplay``); :func:`missing_tools`
lists what is not installed.

The server runs as the current user (root included, with a warning from
pulseaudio) with its socket, cookie and config in a temporary directory, so it
touches nothing of the machine's own sound setup.  Clients (pactl, paplay and
PortAudio's ALSA ``pulse`` device in this process) find it through
``PULSE_SERVER``.  Audio played into the sink ``lumina_test`` comes back on its
monitor source, which is made the default source.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import time

__all__ = ["PulseServer", "REQUIRED_TOOLS", "SINK", "missing_tools", "rescan_portaudio"]

SINK = "lumina_test"
REQUIRED_TOOLS = ("pulseaudio", "pactl", "paplay", "espeak-ng", "sox")


class PulseServer:
    """A PulseAudio server of this user's, all its files in ``workdir``.

    Start it with :meth:`start`, stop it with :meth:`stop` (idempotent; kills and
    reaps the server). Audio played into the sink :data:`SINK` (:meth:`play`)
    comes back on its monitor, the default source, which
    :class:`lumina.MicrophoneSource` records once
    :meth:`point_this_process_here` and :func:`rescan_portaudio` were called.

    Parameters
    ----------
    workdir : pathlib.Path
        An empty folder for the server's socket, cookie, config and log.
    """

    def __init__(self, workdir: pathlib.Path) -> None:
        self.workdir = workdir
        self.socket = workdir / "native"
        self.proc: subprocess.Popen | None = None
        self._saved_env: dict[str, str | None] = {}

    @property
    def env(self) -> dict[str, str]:
        """Environment for the server and its clients: everything points into ``workdir``."""
        env = dict(os.environ)
        env.update({
            "HOME": str(self.workdir),
            "XDG_RUNTIME_DIR": str(self.workdir),
            "XDG_CONFIG_HOME": str(self.workdir / "config"),
            "PULSE_RUNTIME_PATH": str(self.workdir / "runtime"),
            "PULSE_SERVER": f"unix:{self.socket}",
        })
        return env

    def command(self) -> list[str]:
        return [
            "pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "--system=false",
            "-n", "--use-pid-file=false", "--disable-shm=true", "--log-target=stderr",
            "--load", f"module-null-sink sink_name={SINK} rate=48000 channels=1",
            "--load", f"module-native-protocol-unix auth-anonymous=1 socket={self.socket}",
        ]

    def start(self, timeout: float = 15.0) -> None:
        """Start the server and wait until ``pactl info`` answers; raise RuntimeError if it never does."""
        log = open(self.workdir / "pulseaudio.log", "wb")
        self.proc = subprocess.Popen(self.command(), env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self.pactl("info", check=False).returncode == 0:
                self.pactl("set-default-sink", SINK)
                self.pactl("set-default-source", f"{SINK}.monitor")
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("pulseaudio did not start; its log:\n"
                           + (self.workdir / "pulseaudio.log").read_text(errors="replace"))

    def pactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["pactl", *args], env=self.env, capture_output=True,
                              check=check, timeout=10)

    def play(self, wav: pathlib.Path) -> subprocess.Popen:
        """Start playing ``wav`` into the null sink (returns the running paplay)."""
        return subprocess.Popen(["paplay", f"--device={SINK}", str(wav)], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def point_this_process_here(self) -> None:
        """Make libpulse in this process (PortAudio's ALSA pulse device) use this server."""
        for key in ("PULSE_SERVER", "PULSE_RUNTIME_PATH"):
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = self.env[key]

    def restore_this_process(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def missing_tools() -> list[str]:
    """The tools of :data:`REQUIRED_TOOLS` not on ``PATH``."""
    return [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]


def rescan_portaudio() -> None:
    """Make PortAudio enumerate devices again (it lists them once, at initialisation).

    sounddevice documents ``_terminate()``/``_initialize()`` as the way to re-scan.
    """
    import sounddevice as sd
    sd._terminate()
    sd._initialize()
