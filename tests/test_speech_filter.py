"""The speech filter's whole-decode test, and the engine's greedy second opinion when beams wrote
only annotations (tiny.en's 5 beams read a lone "Sure." as "[Sure]"; the real-weights case is in
test_real_words.py's short answers on the fast path)."""

import pytest

from lumina import Engine
from lumina.asr.backend import RunResult, SegmentData, TokenData, WhisperModel
from lumina.asr.shared_model import SharedModel
from lumina.asr.speech_filter import SpeechFilter, first_reading, heard_only_sound
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


def _read(pieces: list[str], start: float = 0.0, end: float = 5.12) -> SegmentData:
    """One segment of these token texts, token ids by text (equal text, equal id)."""
    ids = {piece: 100 + i for i, piece in enumerate(dict.fromkeys(pieces))}
    tokens = tuple(TokenData(ids[piece], piece, 0.9, 0.0, 0.0) for piece in pieces)
    return SegmentData(start, end, "".join(pieces), tokens, 0.1)


_WINDOW = [" Close", " the", " window", "."]


@pytest.mark.parametrize(("pieces", "duration", "kept"), [
    # real tiny.en, greedy, 5.12 s context, "close the window" (hibari, 1.5 s): 15 tokens
    (_WINDOW * 3 + _WINDOW[:3], 1.5, " Close the window."),
    (_WINDOW * 2, 0.9, " Close the window."),                   # 8 tokens > 7.2 the audio holds
    (_WINDOW * 2, 1.1, " Close the window. Close the window."),  # said twice: it fits
    ([" Send", " it", "."] * 5, 1.2, " Send it."),
    # not one phrase read again token for token, or one token again and again: left whole
    ([" New", " paragraphs", " New", " paragraphs", " New", " paragraph"], 0.5,
     " New paragraphs New paragraphs New paragraph"),
    ([" no"] * 9, 1.0, " no" * 9),
    ([" no", "."] * 4, 1.0, " no." * 4),   # 8 tokens fit 1 s (8 per second)
    ([" no", "."] * 5, 1.0, " no."),
])
def test_a_phrase_read_over_and_over_inside_one_segment_keeps_its_first_reading(pieces, duration, kept):
    got = _kept([_read(pieces)], duration)
    assert got == ([kept] if kept else [])


def test_a_loop_keeps_the_first_readings_tokens_and_times():
    segment = _read(_WINDOW * 4, start=0.0, end=5.12)
    cleaned = SpeechFilter(_not_special, 1.5).clean(segment)
    assert [t.text for t in cleaned.data.tokens] == _WINDOW
    assert (cleaned.data.start, cleaned.data.end) == (0.0, 5.12)
    assert first_reading(segment.tokens, 1.5) == 4 and first_reading(segment.tokens, 2.0) == 16


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
