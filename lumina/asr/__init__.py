"""Recognition layer: the whisper.cpp backend, the :class:`Engine`, devices and transcripts.

``asr.backend`` is the only module in lumina that imports pywhispercpp.
"""

from lumina.asr.choice import ModelChoice, choose_model
from lumina.asr.device import DeviceInfo, devices
from lumina.asr.engine import Engine
from lumina.asr.long_form import SegmentIterator, TranscriptionInfo
from lumina.asr.transcript import Segment, Timings, Token, Transcript

__all__ = ["DeviceInfo", "Engine", "ModelChoice", "Segment", "SegmentIterator", "Timings", "Token",
           "Transcript", "TranscriptionInfo", "choose_model", "devices"]
