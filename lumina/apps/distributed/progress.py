"""The progress bar of a distributed run: files done, audio hours, speed against real time."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

from lumina.apps.distributed.records import FileResult

__all__ = ["Progress"]


class Progress:
    """A tqdm bar over the files of a run, with audio hours and failures as its postfix.

    Parameters
    ----------
    total : int
        Files to transcribe.
    enabled : bool or None
        Show the bar; None shows it when stderr is a terminal.
    """

    def __init__(self, total: int, enabled: bool | None = None) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty()
        self._bar = tqdm(total=total, unit="file", desc="transcribing", disable=not enabled,
                         dynamic_ncols=True)
        self._started = time.perf_counter()
        self.audio_seconds = 0.0
        self.failed = 0

    def update(self, result: FileResult) -> None:
        """Count one finished file."""
        self.audio_seconds += result.audio_seconds
        self.failed += not result.ok
        self._bar.set_postfix_str(self.postfix(), refresh=False)
        self._bar.update(1)

    def postfix(self) -> str:
        """``"0.530 h audio, 41.0x real time, 1 failed"``."""
        elapsed = time.perf_counter() - self._started
        speed = self.audio_seconds / elapsed if elapsed > 0 else 0.0
        text = f"{self.audio_seconds / 3600:.3f} h audio, {speed:.1f}x real time"
        return text + (f", {self.failed} failed" if self.failed else "")

    def write(self, line: str, *, error: bool = False) -> None:
        """Print a line above the bar (stdout, or stderr for errors)."""
        self._bar.write(line, file=sys.stderr if error else sys.stdout)

    def close(self) -> None:
        """Remove the bar."""
        self._bar.close()
