"""The real tiny.en on real speech: its words, no repeats on the fast path, and no text from sounds
that are not speech (lumina.asr.speech_filter), in every file path; short answers spoken alone
still come through."""

import functools

import numpy as np
import pytest
from _real_util import padded

from lumina.evaluation import (ESPEAK_VOICES, HIBARI_VOICES, NON_SPEECH, SENTENCES, SHORT_ANSWERS,
                               clips, non_speech, normalise, word_errors)

pytestmark = pytest.mark.real

VOICES = HIBARI_VOICES + ESPEAK_VOICES[:2]


@functools.cache
def _decoded(engine, speech, speed):
    """(clip, transcript) of every corpus clip, decoded once per speed for the whole module."""
    return [(c, engine.transcribe(c.audio, speed=speed)) for c in clips(speech, SENTENCES, VOICES)]


@pytest.fixture(scope="module")
def accurate(real_engine, speech):
    return _decoded(real_engine, speech, "accurate")


@pytest.fixture(scope="module")
def fast(real_engine, speech):
    return _decoded(real_engine, speech, "fast")


def _wer(results, engine_label=None):
    chosen = [(c, t) for c, t in results if engine_label is None or c.voice.engine == engine_label]
    return word_errors([c.text for c, _ in chosen], [t.text for _, t in chosen]).rate


@pytest.mark.parametrize("speed", ["accurate", "fast"])
def test_the_clean_hibari_sentences_are_read_almost_word_for_word(accurate, fast, speed):
    assert _wer({"accurate": accurate, "fast": fast}[speed], "hibari") <= 0.01


def test_every_sentence_is_read_and_none_is_empty(accurate, fast):
    for _, t in accurate + fast:
        assert t.text and t.reason is None


def _repeated_run(text: str, n: int = 4) -> bool:
    """Whether some run of ``n`` words occurs twice (no corpus sentence repeats one)."""
    words = normalise(text).split()
    runs = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return len(runs) != len(set(runs))


def test_the_fast_path_never_repeats_a_sentence_or_a_segment(fast):
    assert not any(_repeated_run(s) for s in SENTENCES)
    for clip, t in fast:
        texts = [normalise(s.text) for s in t.segments]
        assert len(texts) == len(set(texts)), (clip.label, t.text)
        assert not _repeated_run(t.text), (clip.label, t.text)


def test_the_fast_path_is_as_accurate_as_the_full_window(accurate, fast):
    assert _wer(fast, "hibari") <= _wer(accurate, "hibari") + 0.005
    assert _wer(fast) <= _wer(accurate) + 0.005


# --------------------------------------------------------------------------- no text from non-speech

PATHS = {
    "accurate": lambda e, a: e.transcribe(a),
    "fast": lambda e, a: e.transcribe(a, speed="fast"),
    "vad": lambda e, a: e.transcribe(a, vad=True),
    "iter without vad": lambda e, a: e.transcribe_iter(a, vad=False)[0].transcript(),
    "iter with vad": lambda e, a: e.transcribe_iter(a)[0].transcript(),
}


@pytest.mark.parametrize("signal", sorted(NON_SPEECH))
@pytest.mark.parametrize("path", sorted(PATHS))
def test_non_speech_gives_no_text_and_says_why(real_engine, signal, path):
    transcript = PATHS[path](real_engine, non_speech(signal, 10.0, seed=1))
    assert transcript.text == "" and transcript.segments == ()
    assert transcript.reason.startswith("no speech"), transcript.reason


@pytest.mark.parametrize("answer", SHORT_ANSWERS)
@pytest.mark.parametrize("path", sorted(PATHS))
def test_a_short_answer_spoken_alone_comes_through(real_engine, speech, answer, path):
    audio = padded(speech.render(answer, HIBARI_VOICES[0]))
    assert normalise(PATHS[path](real_engine, audio).text) == normalise(answer)


@pytest.mark.parametrize("path", ["fast", "vad"])
def test_an_annotation_inside_speech_is_removed_but_the_words_stay(real_engine, speech, path):
    """(5 beams write the second sentence as a segment ending 1 s past the audio, the shape of a
    loop: kept because it starts early enough to be said again. The accurate path reads only the
    first sentence here: whisper.cpp's temperature fallback replaces the beams' reading.)"""
    words = speech.render("The meeting starts at nine.", HIBARI_VOICES[0])
    beeps = non_speech("ring-back beeps -25 dB", 3.0) * 4
    transcript = PATHS[path](real_engine, np.concatenate([words, beeps, words]))
    assert "(" not in transcript.text and "[" not in transcript.text
    assert normalise(transcript.text).split().count("meeting") == 2


# --------------------------------------------------------------------------- the same audio, the same text

@pytest.mark.parametrize("speed", ["accurate", "fast"])
def test_beam_search_gives_the_same_text_whatever_was_decoded_before(real_engine, speech, speed):
    """whisper.cpp's beam search samples its candidates with a random generator that a reused
    state carries from call to call (lumina.asr.shared_model): the same clips decoded in the
    opposite order must still read the same."""
    chosen = clips(speech, SENTENCES[:8], ESPEAK_VOICES[:2])
    forward = [real_engine.transcribe(c.audio, speed=speed, beam_size=5).text for c in chosen]
    backward = [real_engine.transcribe(c.audio, speed=speed, beam_size=5).text for c in reversed(chosen)]
    assert forward == backward[::-1]


# Words spoken one at a time with measured pauses (lumina.evaluation.words): how many of the
# 15 words each reading matches, and how many of those start and end within one 10 ms frame of
# where their sound is. whisper.cpp's own times (before lumina.asr.word_times) started a word
# after a pause at the end of the word before it: 140 ms off at the median over 3 voices.
@pytest.mark.parametrize("voice, speed, matched, starts_on, ends_on", [
    (HIBARI_VOICES[0], "accurate", 14, 9, 12), (HIBARI_VOICES[0], "fast", 14, 9, 11),
    (ESPEAK_VOICES[0], "accurate", 12, 7, 6), (ESPEAK_VOICES[0], "fast", 12, 9, 9)])
def test_word_times_lie_on_the_words_sound(real_tiny_en, speech, voice, speed, matched, starts_on, ends_on):
    from lumina import Engine
    from lumina.evaluation.words import timing_errors, word_recording, words_of

    text = "the bus to the station leaves at nine and returns after lunch on most days"
    rec = word_recording(speech, text.split(), voice, [0.2, 0.35, 0.6, 0.12])
    heard = []
    # A fresh engine: whisper.cpp's token times depend on what its state decoded before.
    with Engine(real_tiny_en, threads=2) as engine:
        transcript = engine.transcribe(rec.audio, word_timestamps=True, speed=speed, on_segment=heard.append)
    assert tuple(heard) == transcript.segments  # segments handed out live carry the same times
    starts, ends = timing_errors(rec.words, words_of(transcript.segments))
    assert (len(starts), sum(e <= 0.0101 for e in starts), sum(e <= 0.0101 for e in ends)) == \
        (matched, starts_on, ends_on)
