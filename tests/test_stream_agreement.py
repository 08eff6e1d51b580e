"""LocalAgreement-n: exact stable/unstable splits, and properties against random hypothesis sequences."""

from hypothesis import given, settings, strategies as st

import pytest

from lumina.errors import ArgumentError
from lumina.streaming.agreement import AGREEING_HYPOTHESES, LocalAgreement, common_prefix_length
from lumina.asr.transcript import Token


def toks(*ids, text=lambda i: f" t{i}"):
    return [Token(i, text(i), 1.0, 0.0, 0.0) for i in ids]


def test_common_prefix_length():
    assert common_prefix_length([], []) == 0
    assert common_prefix_length([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix_length([1, 2], [1, 2, 3]) == 2
    assert common_prefix_length([5], [6]) == 0


def test_first_hypothesis_is_all_unstable():
    assert LocalAgreement().update(toks(1, 2)) == ("t1 t2", "", "t1 t2")


def test_agreement_of_two_hypotheses_becomes_stable():
    la = LocalAgreement(2)
    la.update(toks(1, 2, 3))
    assert la.update(toks(1, 2, 4, 5)) == ("t1 t2 t4 t5", "t1 t2", " t4 t5")
    assert [t.id for t in la.stable_tokens] == [1, 2]


def test_streams_wait_for_three_hypotheses_to_agree():
    assert AGREEING_HYPOTHESES == LocalAgreement().hypotheses == 3
    la = LocalAgreement()
    la.update(toks(1, 2, 3))
    assert la.update(toks(1, 2, 4, 5)) == ("t1 t2 t4 t5", "", "t1 t2 t4 t5")
    assert la.update(toks(1, 6, 7)) == ("t1 t6 t7", "t1", " t6 t7")   # all three share t1


def test_an_early_misreading_two_hypotheses_share_does_not_stay():
    # Real tiny.en, "The children built a sandcastle and waited for the tide to come in.": with two
    # hypotheses agreeing, "A" became stable and every later partial began "A children".
    la = LocalAgreement()
    for text in ("A children.", "A children bill.", "The children built us.", "The children will descend."):
        la.update(words(text))
    assert la.update(words("The children will descend, Castle.")) == (
        "The children will descend, Castle.", "The children", " will descend, Castle.")
    two = LocalAgreement(2)
    for text in ("A children.", "A children bill.", "The children built us."):
        out = two.update(words(text))
    assert out[1] == "A"


@pytest.mark.parametrize("bad", [1, 0, 2.0, True, "3"])
def test_the_number_of_hypotheses_is_checked(bad):
    with pytest.raises(ArgumentError, match="hypotheses must be an int >= 2"):
        LocalAgreement(bad)


def test_stable_never_shrinks_when_the_model_changes_its_mind():
    la = LocalAgreement(2)
    la.update(toks(1, 2, 3))
    la.update(toks(1, 2, 3))
    # Stable: t1 t2 (t3 ends both hypotheses, so it is not known to be a whole word).
    # Contradicts the committed tokens: they stay, the new tail follows them.
    assert la.update(toks(9, 8, 7, 6)) == ("t1 t2 t7 t6", "t1 t2", " t7 t6")
    assert la.update(toks(9, 8, 7, 6, 5)) == ("t1 t2 t7 t6 t5", "t1 t2", " t7 t6 t5")


def test_tokens_are_compared_by_id_not_text():
    a, b = Token(1, " a", 1.0, 0, 0), Token(3, " b", 1.0, 0, 0)
    same, other = LocalAgreement(2), LocalAgreement(2)
    same.update([a, b])
    other.update([a, b])
    assert same.update([a, b]) == ("a b", "a", " b")
    assert other.update([Token(2, " a", 1.0, 0, 0), b]) == ("a b", "", "a b")


def test_empty_hypotheses():
    la = LocalAgreement()
    assert la.update([]) == ("", "", "")
    assert la.update([]) == ("", "", "")


def test_outer_whitespace_is_trimmed_and_text_is_stable_plus_unstable():
    la = LocalAgreement(2)
    la.update(toks(1, 2))
    text, stable, unstable = la.update(toks(1, 2, 3, text=lambda i: "  x " if i == 3 else f" t{i}"))
    assert (text, stable, unstable) == ("t1 t2  x", "t1", " t2  x")


hypotheses = st.lists(st.lists(st.integers(0, 4), max_size=8), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(hypotheses, st.integers(2, 4))
def test_properties_over_random_hypothesis_sequences(seq, n):
    la = LocalAgreement(n)
    stable_ids: list[int] = []
    stable_text = ""
    for k, ids in enumerate(seq):
        text, stable, unstable = la.update(toks(*ids))
        now = [t.id for t in la.stable_tokens]
        assert text == stable + unstable
        assert now[:len(stable_ids)] == stable_ids          # never shrinks or changes
        assert stable.startswith(stable_text)
        if now != stable_ids:                               # grew: the last n all agree on it
            assert k >= n - 1
            assert all(h[:len(now)] == now for h in seq[k - n + 1:k + 1])
        stable_ids, stable_text = now, stable


VOCABULARY: dict[str, int] = {}


def words(text: str) -> list[Token]:
    """Whisper-like tokens of ``text``: one per word (leading space) and one per full stop."""
    out = []
    for word in text.split():
        out.append(Token(VOCABULARY.setdefault(word.strip("."), 100 + len(VOCABULARY)),
                         " " + word.strip("."), 1.0, 0.0, 0.0))
        if word.endswith("."):
            out.append(Token(13, ".", 1.0, 0.0, 0.0))
    return out


def settled(text: str) -> LocalAgreement:
    """An agreement that has heard ``text`` as often as it needs: its words but the last are stable."""
    la = LocalAgreement()
    for _ in range(la.hypotheses):
        la.update(words(text))
    return la


def test_a_contradicting_hypothesis_goes_on_after_the_words_it_shares_with_the_stable_ones():
    # Real tiny.en at a pause inside "Remember to water the plants on the balcony while I am away.":
    # the stable text ends with a full stop that the whole sentence's decode does not have. By
    # token count the tail would start at " I" and "while" would be lost.
    la = settled("water the balcony. I")
    assert la.update(words("water the balcony while I am away.")) == (
        "water the balcony. while I am away.", "water the balcony.", " while I am away.")


def test_a_changed_last_word_is_followed_by_the_new_words():
    la = settled("the train leave now. 20")
    # "now." was heard as "every": the stable words stay and nothing new is skipped.
    text, stable, _ = la.update(words("the train leave every 20 minutes."))
    assert (text, stable) == ("the train leave now. every 20 minutes.", "the train leave now.")


def test_a_stable_word_heard_again_differently_is_not_shown_twice():
    la = settled("We walk along")
    assert la.update(words("We walked along the river."))[0] == "We walk along the river."


def test_a_word_said_twice_lines_up_with_the_stable_end():
    # Real tiny.en: stable "A children", then "The children built a sandcastle ...". Lining the
    # stable "a" up with the later "a" would skip "built a".
    la = settled("A children built")
    assert la.update(words("The children built a sandcastle and waited."))[0] == (
        "A children built a sandcastle and waited.")


def test_a_hypothesis_without_words_in_common_keeps_the_count_rule():
    la = settled("alpha beta gamma delta")
    assert la.update(words("one two three four five")) == (
        "alpha beta gamma four five", "alpha beta gamma", " four five")


def test_only_words_both_hypotheses_go_on_after_become_stable():
    # "Thursday" ends both hypotheses: the audio may have cut "Thursdays" short, so it waits.
    la = LocalAgreement(2)
    la.update(words("open late on Thursday"))
    assert la.update(words("open late on Thursday")) == (
        "open late on Thursday", "open late on", " Thursday")
    # A word token followed by a suffix ("walk" + "ed") is not a whole word either.
    la = LocalAgreement(2)
    walk, ed, along = Token(1, " walk", 1.0, 0, 0), Token(2, "ed", 1.0, 0, 0), Token(3, " along", 1.0, 0, 0)
    la.update([walk, along])
    assert la.update([walk, ed, along]) == ("walked along", "", "walked along")


def test_a_stable_word_does_not_line_up_with_the_same_word_far_later():
    la = settled("A kid")   # stable "A"
    # Lining "A" up with the "a" of "built a sandcastle" would drop "children built".
    assert la.update(words("The children built a sandcastle."))[0] == "A children built a sandcastle."
