"""Word times moved onto the sound (lumina.asr.word_times) on signals whose sound is known to the sample."""

import numpy as np
import pytest

from lumina.asr.transcript import Segment, Token, word_tokens
from lumina.asr.word_times import SoundSnapper, snap_to_sound

SR = 16000


def signal(seconds, sounds, floor=0.0):
    """``seconds`` of ``floor``-level noise with a 0.5-amplitude 220 Hz tone over each (start, end)."""
    rng = np.random.default_rng(0)
    audio = (floor * rng.standard_normal(int(seconds * SR))).astype(np.float32)
    for start, end in sounds:
        t = np.arange(int(start * SR), int(end * SR))
        audio[t] += 0.5 * np.sin(2 * np.pi * 220 * t / SR).astype(np.float32)
    return audio


def segment(*words, end=None):
    """One segment of (text, start, end) tokens, ending at ``end`` (default its last token's end);
    a text starting with a space starts a word."""
    tokens = tuple(Token(i, text, 0.9, start, stop) for i, (text, start, stop) in enumerate(words))
    return Segment(words[0][1], words[-1][2] if end is None else end, "".join(w[0] for w in words), tokens)


def times(segments):
    return [(t.text, round(t.start, 2), round(t.end, 2)) for s in segments for t in s.tokens]


def test_a_word_after_a_pause_starts_where_its_sound_starts():
    # Sound 0.50-1.00 and 1.60-2.00; whisper.cpp gives the second word the first one's end.
    audio = signal(2.5, [(0.5, 1.0), (1.6, 2.0)])
    got = snap_to_sound((segment((" one", 0.30, 0.90), (" two", 0.90, 1.80), end=2.2),), audio)
    assert times(got) == [(" one", 0.5, 1.0), (" two", 1.6, 2.0)]


def test_an_end_runs_on_no_further_than_its_segment():
    audio = signal(2.5, [(0.5, 1.0), (1.6, 2.0)])
    got = snap_to_sound((segment((" one", 0.30, 0.90), (" two", 0.90, 1.80), end=1.9),), audio)
    assert times(got) == [(" one", 0.5, 1.0), (" two", 1.6, 1.9)]
    # One segment alone (as on_segment hands it out) gets the times it has in the transcript.
    alone = SoundSnapper(audio).segment(segment((" two", 0.90, 1.80), end=1.9))
    assert times((alone,)) == [(" two", 1.6, 1.9)]


def test_a_start_in_the_tail_of_the_word_before_moves_past_the_pause():
    # The second word's time begins inside the first word's sound (0.95 < 1.00).
    audio = signal(2.5, [(0.5, 1.0), (1.6, 2.0)])
    got = snap_to_sound((segment((" one", 0.50, 0.95), (" two", 0.95, 2.00)),), audio)
    assert times(got) == [(" one", 0.5, 1.0), (" two", 1.6, 2.0)]


def test_a_short_dip_inside_a_word_is_not_a_pause():
    # 40 ms of silence inside the second word (a stop's closure) is under the 60 ms a pause needs.
    audio = signal(2.5, [(0.5, 1.3), (1.34, 2.0)])
    words = (segment((" one", 0.50, 0.90), (" two", 0.90, 2.00)),)
    assert times(snap_to_sound(words, audio)) == [(" one", 0.5, 0.9), (" two", 0.9, 2.0)]


def test_continuous_sound_moves_nothing():
    audio = signal(3.0, [(0.0, 3.0)])
    words = (segment((" one", 0.20, 0.70), (" two", 0.80, 1.50), ("s", 1.50, 1.90)),)
    assert snap_to_sound(words, audio) == words


def test_noise_above_the_silence_bar_moves_nothing():
    # Noise 30 dB under the tone: nothing is silent, so whisper.cpp's times stand.
    audio = signal(2.5, [(0.5, 1.0), (1.6, 2.0)], floor=0.5 / 10 ** 1.5)
    words = (segment((" one", 0.30, 0.90), (" two", 0.90, 1.80)),)
    assert snap_to_sound(words, audio) == words


def test_an_end_stops_at_the_next_word_and_tokens_stay_in_order():
    # One stretch of sound 0.5-2.0: the first word's end runs on to the second word's start.
    audio = signal(2.5, [(0.5, 2.0)])
    got = snap_to_sound((segment((" wa", 0.5, 0.7), ("ter", 0.7, 0.9), (" fall", 1.2, 2.3)),), audio)
    assert times(got) == [(" wa", 0.5, 0.7), ("ter", 0.7, 1.2), (" fall", 1.2, 2.0)]


def test_words_across_segments_and_a_word_wholly_in_silence():
    # The last word's time lies wholly in silence: there is no sound of it to move onto.
    audio = signal(4.0, [(0.5, 1.0), (1.6, 2.0)])
    got = snap_to_sound((segment((" one", 0.3, 0.9), end=1.2), segment((" two", 0.9, 1.8), end=2.4),
                         segment((" three", 3.0, 3.5))), audio)
    assert times(got) == [(" one", 0.5, 1.0), (" two", 1.6, 2.0), (" three", 3.0, 3.5)]


@pytest.mark.parametrize("audio", [np.zeros(SR, np.float32), np.zeros(100, np.float32)])
def test_silence_or_too_little_audio_changes_nothing(audio):
    words = (segment((" one", 0.1, 0.5)),)
    assert snap_to_sound(words, audio) == words
    assert snap_to_sound((), audio) == ()


def test_a_token_starting_with_whitespace_starts_a_word():
    tokens = segment((" wa", 0, 0), ("ter", 0, 0), ("\nfall", 0, 0), ("s", 0, 0), (" .", 0, 0)).tokens
    assert [[t.text for t in word] for word in word_tokens(tokens)] == [[" wa", "ter"], ["\nfall", "s"], [" ."]]
    assert word_tokens(tokens[1:2]) == [[tokens[1]]] and word_tokens(()) == []
