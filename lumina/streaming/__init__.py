"""Streaming layer: live transcription with partial and final text.

Modules, from the audio in to the events out:

``segmenter``  utterances from a voice activity detector (:class:`Segmenter`)
``pauses``     the VAD's frames without its hang-over: :class:`SpeechPause`, :class:`SpeechResume`
``history``    the recent samples an utterance may still need
``hangover``   the adaptive hang-over: how much silence ends an utterance, from the text
``scheduler``  the pure decode schedule (no threads; tests drive it)
``pipeline``   the ``lumina-stream`` thread: source -> segmenter -> scheduler
``decoder``    the ``lumina-decode`` thread: decodes in order, emits the events
``speculation`` finals decoded when speech stops, held until the hang-over confirms
``agreement``  LocalAgreement-n: the stable prefix of partial hypotheses
``delivery``   callbacks, ``for`` and ``async for``
``events``     :class:`SpeechStarted`, :class:`Partial`, :class:`SpeechStopped`, :class:`Final`,
               :class:`Dropped`, :class:`DeviceLost`
``options``    :class:`StreamModels` and :class:`StreamOptions`: what a stream decodes with, and how
``engines``    the engines of those models; ``stats``: :class:`StreamStats`
``stream``     the :class:`Stream` façade

Built on the audio layer (sources, the push source, the gateway) and the
recognition layer (engines); never imports the apps.
"""

from lumina.streaming.events import (DeviceLost, Dropped, Final, Partial, SpeechStarted, SpeechStopped,
                                     StreamEvent)
from lumina.streaming.hangover import HangoverPolicy
from lumina.streaming.options import StreamModels, StreamOptions
from lumina.streaming.pauses import SpeechPause, SpeechResume
from lumina.streaming.segmenter import Segmenter, SpeechEnd, SpeechStart
from lumina.streaming.stream import Stream, StreamStats

__all__ = ["DeviceLost", "Dropped", "Final", "HangoverPolicy", "Partial", "Segmenter", "SpeechEnd",
           "SpeechPause", "SpeechResume", "SpeechStart", "SpeechStarted", "SpeechStopped", "Stream",
           "StreamEvent", "StreamModels", "StreamOptions", "StreamStats"]
