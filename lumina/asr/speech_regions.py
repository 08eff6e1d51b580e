"""Where to decode in long audio: padded speech regions, found as the audio streams in.

:class:`SpeechRegions` is fed 16 kHz blocks and hands back :class:`Piece` s,
stretches of the audio to decode, each at most ``max_s`` long: the speech a
voice activity detector finds, widened by ``pad_s`` on both sides (so soft
onsets and word endings are kept), with pauses shorter than ``min_silence_s``
left inside. Without a detector (``vad=None``) the whole audio is one region.
A region longer than ``max_s`` is cut at the quietest 20 ms in the last
``_SPLIT_SEARCH_S`` seconds before the limit, as the streaming segmenter does.

Memory: the audio kept is that of the open region (at most ``max_s``) plus
what the detector has not decided yet; it does not grow with the input.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from lumina._core.vad import frame_db
from lumina.audio.convert import SAMPLE_RATE
from lumina.audio.vad import make_vad
from lumina.errors import ArgumentError

__all__ = ["Piece", "SpeechRegions"]

_FRAME_MS = 20
_FRAME = SAMPLE_RATE * _FRAME_MS // 1000
_SPLIT_SEARCH_S = 2.0


@dataclasses.dataclass(frozen=True, eq=False)
class Piece:
    """A stretch of audio to decode: ``audio`` starts at sample ``start`` of the input."""

    start: int
    audio: np.ndarray = dataclasses.field(repr=False)

    @property
    def end(self) -> int:
        """Input sample one past the last of ``audio``."""
        return self.start + len(self.audio)


class SpeechRegions:
    """Cut streamed 16 kHz audio into pieces of padded speech, each at most ``max_s`` long.

    Parameters
    ----------
    vad : {"silero", "energy", "webrtc"} or None, default "silero"
        The detector; None keeps all the audio.
    pad_s : float, default 0.4
        Audio kept before and after each stretch of speech.
    min_silence_s : float, default 1.0
        Pauses at least this long end a region (and are not decoded); shorter
        ones stay inside it. At least ``pad_s``.
    min_speech_s : float, default 0.25
        Shorter bursts of speech are ignored.
    max_s : float, default 30.0
        Longest piece (whisper's window).
    """

    def __init__(self, vad: str | None = "silero", *, pad_s: float = 0.4,
                 min_silence_s: float = 1.0, min_speech_s: float = 0.25,
                 max_s: float = 30.0) -> None:
        if not 0 <= pad_s <= min_silence_s:
            raise ArgumentError(f"need 0 <= pad_s <= min_silence_s, got {pad_s} and {min_silence_s}")
        if not max_s >= 2 * _SPLIT_SEARCH_S:
            raise ArgumentError(f"max_s must be >= {2 * _SPLIT_SEARCH_S}, got {max_s}")
        self._vad = None if vad is None else make_vad(
            vad, SAMPLE_RATE, _FRAME_MS, start_frames=max(1, math.ceil(min_speech_s * 1000 / _FRAME_MS)),
            end_frames=max(1, math.ceil(min_silence_s * 1000 / _FRAME_MS)))
        self._pad = int(pad_s * SAMPLE_RATE)
        self._max = int(max_s * SAMPLE_RATE) // _FRAME * _FRAME
        self._hist = np.empty(0, dtype=np.float32)
        self._base = 0            # input position of _hist[0]
        self._frame = 0           # frames decided
        self._open: int | None = None   # input position where the open piece starts
        self._floor = 0           # pieces never reach back before this (the last piece's end)

    @property
    def decided(self) -> int:
        """Input samples the detector has decided: every later piece starts after ``decided - pad``."""
        return self._frame * _FRAME

    @property
    def settled(self) -> int:
        """Input samples before this are in pieces handed out, or skipped for good."""
        if self._open is not None:
            return self._open
        return max(self._floor, self.decided - self._pad, 0)

    @property
    def samples(self) -> int:
        """Input samples fed."""
        return self._base + len(self._hist)

    def feed(self, block: np.ndarray) -> list[Piece]:
        """Feed float32 mono 16 kHz samples; return the pieces they complete, in order."""
        self._hist = np.concatenate([self._hist, block])
        decisions = (np.ones((self.samples - self.decided) // _FRAME, dtype=np.int8)
                     if self._vad is None else self._vad.process(block))
        pieces: list[Piece] = []
        self._on_decisions(decisions, pieces)
        self._compact()
        return pieces

    def flush(self) -> list[Piece]:
        """End of input: close the open piece (it runs to the last sample) and return the last pieces."""
        pieces: list[Piece] = []
        if self._vad is not None:
            self._on_decisions(self._vad.flush(), pieces)
        elif self.samples > self.decided:   # a last partial frame
            self._on_decisions(np.ones(1, dtype=np.int8), pieces)
        if self._open is not None:
            self._emit(self.samples if self._vad is None else min(self.samples, self.decided + self._pad),
                       pieces)
        self._hist = np.empty(0, dtype=np.float32)
        return pieces

    # ------------------------------------------------------------------ internal

    def _on_decisions(self, decisions: np.ndarray, pieces: list[Piece]) -> None:
        first, n = self._frame, len(decisions)
        if n == 0:
            return
        self._frame = first + n
        edges = np.flatnonzero(np.diff(decisions)) + 1
        for a, b in zip([0, *edges.tolist()], [*edges.tolist(), n]):
            if decisions[a]:
                if self._open is None:
                    self._open = max((first + a) * _FRAME - self._pad, self._floor, self._base)
                self._split_while_too_long(min((first + b) * _FRAME, self.samples), pieces)
            elif self._open is not None:
                self._emit(min((first + a) * _FRAME + self._pad, self.samples), pieces)

    def _split_while_too_long(self, frontier: int, pieces: list[Piece]) -> None:
        while self._open is not None and frontier - self._open > self._max:
            cut = self._quietest_point(self._open + self._max)
            self._emit(cut, pieces)
            self._open = cut

    def _quietest_point(self, limit: int) -> int:
        n_frames = min(int(_SPLIT_SEARCH_S * SAMPLE_RATE) // _FRAME, (limit - self._open) // _FRAME - 1)
        lo = limit - n_frames * _FRAME
        energy = frame_db(np.ascontiguousarray(self._hist[lo - self._base:limit - self._base]), _FRAME)
        return lo + (len(energy) - 1 - int(np.argmin(energy[::-1]))) * _FRAME

    def _emit(self, end: int, pieces: list[Piece]) -> None:
        start = self._open
        audio = self._hist[start - self._base:end - self._base].copy()
        pieces.append(Piece(start, audio))
        self._open = None
        self._floor = end

    def _compact(self) -> None:
        """Drop audio no piece can need: before the open piece, or before the pad of the undecided."""
        keep = self._open if self._open is not None else max(self._floor, self.decided - self._pad)
        keep = max(keep, self._base)
        if keep > self._base:
            self._hist = self._hist[keep - self._base:]
            self._base = keep
