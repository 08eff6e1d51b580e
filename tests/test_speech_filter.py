"""The speech filter's whole-decode test, and the engine's greedy second opinion when beams wrote
only annotations (tiny.en's 5 beams read a lone "Sure." as "[Sure]"; the real-weights case is in
test_real_words.py's short answers on the fast path)."""

import pytest

from lumina import Engine
from lumina.asr.backend import RunResult, SegmentData, TokenData, WhisperModel
from lumina.asr.shared_model import SharedModel
from lumina.asr.speech_filter import SpeechFilter, heard_only_sound
from lumina.testing import make_model, speechlike


def _segment(text: str, no_speech_prob: float = 0.1, p: float = 0.9) -> SegmentData:
    tokens = tuple(TokenData(100 + i, piece, p, 0.0, 0.0) for i, piece in enumerate(text.split(" ")))
    return SegmentData(0.0, 1.0, text, tokens, no_speech_prob)


def _not_special(token_id: int) -> bool:
    return False


@pytest.mark.parametrize(("texts", "expected"), [
    ((" [Sure]",), True),
    ((" [BLANK_AUDIO]", " (beeping)"), True),
    ((" ♪♪",), True),
    ((" [MUSIC] Hello there",), False),      # words outside the brackets
    ((" [MUSIC]", " Hello there"), False),   # one segment of words
    ((), False),                             # no segments: nothing was written
])
def test_heard_only_sound_means_every_segment_was_an_annotation(texts, expected):
    assert heard_only_sound([_segment(t) for t in texts], _not_special, 2.0) is expected


def test_a_hallucination_removed_for_its_no_speech_probability_is_not_an_annotation():
    # "you" on silence: dropped by the no-speech rule, and the greedy path is no better a judge.
    assert heard_only_sound([_segment(" you", no_speech_prob=0.9, p=0.1)], _not_special, 2.0) is False


def _timed(start: float, end: float, text: str) -> SegmentData:
    return SegmentData(start, end, text, _segment(text).tokens, 0.1)


def _kept(segments, duration: float) -> list[str]:
    speech_filter = SpeechFilter(_not_special, duration)
    return [c.data.text for c in map(speech_filter.clean, segments) if c.data is not None]


def test_a_repeat_that_starts_too_late_to_be_said_again_is_a_loop():
    # The fast path's loop on real tiny.en: 4.42 s of audio, the sentence again from 4.0 s to 8.0 s.
    said = " The museum is closed on Mondays, but open late on Thursdays."
    assert _kept([_timed(0.0, 4.0, said), _timed(4.0, 8.0, said)], 4.42) == [said]


def test_a_sentence_said_twice_stays_even_when_its_end_time_overshoots():
    # 5 beams on "The meeting starts at nine." + 3 s of beeps + the same: 6.95 s of audio.
    said = " The meeting starts at nine."
    assert _kept([_timed(0.0, 3.0, said), _timed(5.0, 8.0, said)], 6.95) == [said, said]


class BracketingBeams:
    """Makes every beam-search decode answer "[Sure]"; greedy decodes run for real."""

    def __init__(self, monkeypatch) -> None:
        self.beams: list[int] = []
        for kind in (WhisperModel, SharedModel):
            monkeypatch.setattr(kind, "run", self._wrapping(kind.run))

    def _wrapping(self, real):
        def run(model, audio, options, *args, **kwargs):
            self.beams.append(options.beam_size)
            if options.beam_size > 1:
                token = TokenData(200, " [Sure]", 0.9, 0.0, 0.0)
                return RunResult((SegmentData(0.0, 1.0, " [Sure]", (token,), 0.1),), "en", 0, 0, 0, False)
            return real(model, audio, options, *args, **kwargs)
        return run


@pytest.mark.parametrize("speed", ["accurate", "fast"])
def test_when_beams_write_only_an_annotation_the_greedy_decode_decides(tmp_path, monkeypatch, speed):
    path = make_model(tmp_path / "micro.bin", "micro", decoding="confident")
    audio = speechlike(2.0)
    with Engine(path, threads=2, warmup=False) as engine:
        greedy = engine.transcribe(audio, speed=speed, beam_size=1)
        spy = BracketingBeams(monkeypatch)
        beams = engine.transcribe(audio, speed=speed, beam_size=5)
    assert greedy.text and beams.text == greedy.text
    assert spy.beams == [5, 1]
