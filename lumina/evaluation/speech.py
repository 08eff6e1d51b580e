"""Real speech made offline: hibari-tts's neural voice and espeak-ng's formant voices, cached.

Rendering is deterministic (hibari with a fixed seed, espeak-ng with fixed
options), so a cache keyed by (engine, voice, speed, text) stays valid; files
are 16 kHz float WAVs a person can listen to.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
import shutil
import subprocess
import tempfile
import threading

import numpy as np
import soundfile
import soxr

from lumina.audio.convert import SAMPLE_RATE
from lumina.errors import ArgumentError, MissingDependencyError

__all__ = ["ESPEAK_VOICES", "HIBARI_VOICES", "SpeechRenderer", "Voice"]

_FORMAT_VERSION = 1  # part of every cache key: bump when rendering changes


@dataclasses.dataclass(frozen=True)
class Voice:
    """One way of speaking: ``engine`` ``"hibari"`` or ``"espeak"``, its voice name and speed.

    ``speed`` is hibari's rate factor (1.0 normal) or espeak-ng's words per minute.
    """

    engine: str
    name: str
    speed: float

    @property
    def label(self) -> str:
        """A short name for tables (``hibari:heart``, ``espeak:en-gb@160``)."""
        suffix = "" if self.speed in (1.0, 175) else f"@{self.speed:g}"
        return f"{self.engine}:{self.name}{suffix}"


#: hibari's voice that ships in its wheel, at two speeds.
HIBARI_VOICES = (Voice("hibari", "heart", 1.0), Voice("hibari", "heart", 1.15))
#: espeak-ng voices: American and British English, a female and a male variant.
ESPEAK_VOICES = (Voice("espeak", "en-us", 175), Voice("espeak", "en-gb", 160),
                 Voice("espeak", "en-us+f3", 170), Voice("espeak", "en+m3", 165))


class SpeechRenderer:
    """Speaks text in a :class:`Voice`, caching each rendering in ``cache_dir``.

    Thread-safe; hibari's model loads on first use.
    """

    def __init__(self, cache_dir: str | os.PathLike[str]) -> None:
        self.cache_dir = pathlib.Path(cache_dir)
        self._hibari = None
        self._lock = threading.Lock()

    def render(self, text: str, voice: Voice) -> np.ndarray:
        """``text`` spoken by ``voice``: float32 mono at 16 kHz."""
        path = self.path(text, voice)
        if not path.is_file():
            audio = self._synthesise(text, voice)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            soundfile.write(tmp, audio, SAMPLE_RATE, subtype="FLOAT", format="WAV")
            os.replace(tmp, path)
        audio, rate = soundfile.read(path, dtype="float32")
        return audio

    def path(self, text: str, voice: Voice) -> pathlib.Path:
        """Where the rendering of ``text`` by ``voice`` is cached."""
        key = hashlib.sha256(repr((_FORMAT_VERSION, voice, text)).encode()).hexdigest()[:20]
        return self.cache_dir / "speech" / f"{voice.engine}-{key}.wav"

    def _synthesise(self, text: str, voice: Voice) -> np.ndarray:
        if voice.engine == "hibari":
            return self._hibari_speak(text, voice)
        if voice.engine == "espeak":
            return _espeak(text, voice)
        raise ArgumentError(f"unknown speech engine {voice.engine!r}; use 'hibari' or 'espeak'")

    def _hibari_speak(self, text: str, voice: Voice) -> np.ndarray:
        with self._lock:
            if self._hibari is None or self._hibari[0] != voice.name:
                try:
                    import hibari
                except ImportError:
                    raise MissingDependencyError("hibari voices need hibari-tts: "
                                                 "pip install 'lumina[eval]'") from None
                self._hibari = (voice.name, hibari.Hibari(voice=voice.name, threads=1))
            tts = self._hibari[1]
            audio = tts(text, speed=voice.speed, seed=0)
        return soxr.resample(audio, tts.sample_rate, SAMPLE_RATE).astype(np.float32)


def _espeak(text: str, voice: Voice) -> np.ndarray:
    if shutil.which("espeak-ng") is None:
        raise MissingDependencyError("espeak voices need espeak-ng (Debian: apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        wav = pathlib.Path(tmp) / "out.wav"
        subprocess.run(["espeak-ng", "-v", voice.name, "-s", str(int(voice.speed)), "-w", str(wav), text],
                       check=True, capture_output=True)
        audio, rate = soundfile.read(wav, dtype="float32")
    return soxr.resample(audio, rate, SAMPLE_RATE).astype(np.float32)
