"""Google's WebRTC VAD (the optional package ``webrtcvad``) behind the common frame interface."""

from __future__ import annotations

import numpy as np

from lumina._core.vad import Hysteresis
from lumina.errors import ArgumentError, MissingDependencyError

__all__ = ["WebRtcVAD"]


class WebRtcVAD:
    """Adapter giving webrtcvad the EnergyVAD interface (frames, process, flush, reset).

    Parameters
    ----------
    sample_rate : {8000, 16000, 32000, 48000}
    frame_ms : {10, 20, 30}
    aggressiveness : {0, 1, 2, 3}
        0 (least) to 3 (most aggressive at calling audio non-speech).
    start_frames, end_frames : int
        Hysteresis: speech frames that open speech, silent frames that close it.

    Raises
    ------
    MissingDependencyError
        ``webrtcvad`` is not installed (the message says how to install it).
    ArgumentError
        An unsupported rate or aggressiveness.
    """

    def __init__(self, sample_rate: int, frame_ms: int, aggressiveness: int,
                 start_frames: int, end_frames: int) -> None:
        if aggressiveness not in (0, 1, 2, 3):
            raise ArgumentError(f"webrtc_aggressiveness must be 0, 1, 2 or 3, got {aggressiveness}")
        try:
            import webrtcvad
        except ImportError as exc:
            raise MissingDependencyError(
                "vad='webrtc' needs the optional package webrtcvad, which is not installed; "
                "install it with `pip install 'lumina[webrtc]'` (prebuilt webrtcvad-wheels) or "
                "`pip install webrtcvad`, or use vad='energy'") from exc
        if sample_rate not in (8000, 16000, 32000, 48000):
            raise ArgumentError(f"webrtcvad supports 8000, 16000, 32000 or 48000 Hz, got {sample_rate}")
        self._vad = webrtcvad.Vad(aggressiveness)
        self.sample_rate = sample_rate
        self.frame_samples = sample_rate * frame_ms // 1000
        self._hyst = Hysteresis(start_frames, end_frames)
        self._partial = np.empty(0, dtype=np.float32)

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Feed float32 samples; return the frame decisions that became final (int8, 1 = speech)."""
        buf = np.concatenate([self._partial, samples]) if len(self._partial) else samples
        n_frames = len(buf) // self.frame_samples
        whole = n_frames * self.frame_samples
        self._partial = buf[whole:].copy()
        pcm = (np.clip(buf[:whole], -1.0, 1.0) * 32767.0).astype("<i2")
        raw = np.fromiter(
            (self._vad.is_speech(frame.tobytes(), self.sample_rate)
             for frame in pcm.reshape(n_frames, self.frame_samples)),
            dtype=np.int8, count=n_frames)
        return self._hyst.push(raw)

    def flush(self) -> np.ndarray:
        """End of stream: decide held-back frames (as silence), drop a partial frame, reset."""
        self._partial = np.empty(0, dtype=np.float32)
        return self._hyst.flush()

    def reset(self) -> None:
        """Forget all audio and state."""
        self._partial = np.empty(0, dtype=np.float32)
        self._hyst.reset()

    @property
    def pending_frames(self) -> int:
        """Frames fed but not yet decided."""
        return self._hyst.pending
