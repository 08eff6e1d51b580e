"""Streaming layer: utterance segmentation, partial/final scheduling, agreement, events, :class:`Stream`.

Built on the audio layer (sources, VAD) and the recognition layer (engines).
"""

from lumina.streaming.events import DeviceLost, Dropped, Final, Partial
from lumina.streaming.segmenter import Segmenter, SpeechEnd, SpeechStart
from lumina.streaming.stream import Stream, StreamStats

__all__ = ["DeviceLost", "Dropped", "Final", "Partial", "Segmenter", "SpeechEnd", "SpeechStart",
           "Stream", "StreamStats"]
