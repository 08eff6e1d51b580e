"""lumina.evaluation's word error rate: what counts as a word and how errors are counted."""

import pytest

from lumina.evaluation import normalise, word_errors


@pytest.mark.parametrize("text, expected", [
    ("Maybe...", "maybe"),
    ("Wait... what?", "wait what"),
    ("The train leaves every twenty minutes.", "the train leaves every 20 minutes"),
    ("Yes.", "yes"),
    ("...", ""),
])
def test_normalise_keeps_words_only(text, expected):
    assert normalise(text) == expected


def test_word_errors_count_substitutions_deletions_and_insertions():
    errors = word_errors("the cat sat on the mat", "the bat sat on mat")
    assert (errors.substitutions, errors.deletions, errors.insertions, errors.words) == (1, 1, 0, 6)
    longer = word_errors("the cat sat on the mat", "the cat sat on the mat today")
    assert (longer.substitutions, longer.deletions, longer.insertions) == (0, 0, 1)
    assert errors.rate == pytest.approx(2 / 6)


def test_punctuation_alone_is_no_insertion():
    assert word_errors("maybe", "Maybe...").errors == 0
