"""The stream's default final path (issue: streams on real speech): finals decode the utterance
at speed "fast", greedily (files default to 5 beams; a Final is waited for), partials greedily at
speed "fast" (lumina.streaming.options)."""

import pytest
from _stream_util import ScriptedEngine, chunks_of, two_utterances
from lumina import Final, Stream, StreamOptions
from lumina.asr.speed import beam_size_for


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    return two_utterances(tmp_path_factory.mktemp("speech"))


class Recording(ScriptedEngine):
    """A scripted engine that keeps the options of every decode."""

    def __init__(self):
        super().__init__(lambda i, audio, speed: [3])
        self.options = []

    def transcribe_samples(self, audio, options, **hooks):
        self.options.append(options)
        return super().transcribe_samples(audio, options, **hooks)


def test_finals_default_to_the_greedy_fast_path_and_partials_are_greedy(speech):
    """(A final and a complete partial decode alike, so the count is a floor.)"""
    engine = Recording()
    events = list(Stream(engine, source=chunks_of(speech), options=StreamOptions(lockstep=True)))
    finals = sum(isinstance(e, Final) for e in events)
    decodes = [(o.speed, beam_size_for(o.speed, o.beam_size)) for o in engine.options]
    assert StreamOptions().final_speed == "fast" and finals == 2
    assert StreamOptions().final_beam_size == 1 and beam_size_for("fast", None) == 5
    assert set(decodes) == {("fast", 1)} and len(decodes) > finals  # finals and partials alike


def test_final_speed_accurate_and_final_beam_size_are_honoured(speech):
    engine = Recording()
    list(Stream(engine, source=chunks_of(speech),
                options=StreamOptions(lockstep=True, final_speed="accurate", final_beam_size=2)))
    decodes = {(o.speed, beam_size_for(o.speed, o.beam_size)) for o in engine.options}
    assert decodes == {("fast", 1), ("accurate", 2)}
