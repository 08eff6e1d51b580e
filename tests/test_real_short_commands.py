"""Short commands spoken alone, the dictation case, with the real tiny.en: every one comes out of a
stream as one Final with words, read once.

Greedy decoding of a 1-2 s phrase in the 5.12 s fast context loops ("Close the window. Close the
window. Close the ..."); the speech filter once dropped such a segment whole, and 9 of these 44
commands (hibari-tts, 6 dB louder than its rendering) gave an empty Final.
"""

import numpy as np
import pytest

from lumina import Final, Stream, StreamOptions
from lumina.evaluation import HIBARI_VOICES, normalise, word_errors
from lumina.evaluation.phrases import PHRASES

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def finals(real_engine, speech):
    """{command: [the texts of its Finals]}: 1 s of silence, the command, 2 s of silence."""
    out = {}
    for command in PHRASES:
        voice = (speech.render(command, HIBARI_VOICES[0]) * 2.0).astype(np.float32)
        signal = np.concatenate([np.zeros(16000, np.float32), voice, np.zeros(32000, np.float32)])
        chunks = [signal[i:i + 320] for i in range(0, len(signal), 320)]
        events = Stream(real_engine, source=chunks, options=StreamOptions(lockstep=True))
        out[command] = [e.text for e in events if isinstance(e, Final)]
    return out


def test_every_command_gives_one_final_with_words(finals):
    assert len(finals) == 44
    assert {c: texts for c, texts in finals.items() if len(texts) != 1 or not normalise(texts[0])} == {}


def test_no_final_reads_its_command_twice(finals):
    looping = {c: t for c, (t,) in finals.items()
               if (n := len(normalise(t).split())) > 1 and _period(normalise(t).split()) < n}
    assert looping == {}


def test_the_finals_read_the_commands(finals):
    # 4 of 134 words wrong: "new paragraphs", "under the last change", "mark is red"
    errors = word_errors(list(finals), [texts[0] for texts in finals.values()])
    assert (errors.words, errors.substitutions, errors.deletions, errors.insertions) == (134, 4, 0, 0)


def _period(words: list[str]) -> int:
    """The shortest prefix the words repeat (their count when they repeat none)."""
    for period in range(1, len(words) // 2 + 1):
        if all(words[i] == words[i - period] for i in range(period, len(words))):
            return period
    return len(words)
