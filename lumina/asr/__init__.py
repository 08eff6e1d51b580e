"""Recognition layer: the whisper.cpp backend, the :class:`Engine`, devices and transcripts.

``asr.backend`` is the only module in lumina that imports pywhispercpp.
"""

from lumina.asr.choice import ModelPick, choose_model
from lumina.asr.device import DeviceInfo, devices
from lumina.asr.engine import Engine
from lumina.asr.long_form import SegmentIterator, TranscriptionInfo
from lumina.asr.protocol import SpeechEngine, TranscribeOptions
from lumina.asr.transcript import Segment, Timings, Token, Transcript

__all__ = ["DeviceInfo", "Engine", "ModelPick", "Segment", "SegmentIterator", "SpeechEngine",
           "Timings", "Token", "TranscribeOptions", "Transcript", "TranscriptionInfo", "choose_model",
           "devices"]
