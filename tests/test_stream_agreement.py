"""LocalAgreement-2: exact stable/unstable splits, and properties against random hypothesis sequences."""

from hypothesis import given, settings, strategies as st

from lumina.streaming.agreement import LocalAgreement, common_prefix_length
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
    la = LocalAgreement()
    la.update(toks(1, 2, 3))
    assert la.update(toks(1, 2, 4, 5)) == ("t1 t2 t4 t5", "t1 t2", " t4 t5")
    assert [t.id for t in la.stable_tokens] == [1, 2]


def test_stable_never_shrinks_when_the_model_changes_its_mind():
    la = LocalAgreement()
    la.update(toks(1, 2, 3))
    la.update(toks(1, 2, 3))
    # Stable: t1 t2 (t3 ends both hypotheses, so it is not known to be a whole word).
    # Contradicts the committed tokens: they stay, the new tail follows them.
    assert la.update(toks(9, 8, 7, 6)) == ("t1 t2 t7 t6", "t1 t2", " t7 t6")
    assert la.update(toks(9, 8, 7, 6, 5)) == ("t1 t2 t7 t6 t5", "t1 t2", " t7 t6 t5")


def test_tokens_are_compared_by_id_not_text():
    la = LocalAgreement()
    la.update([Token(1, " a", 1.0, 0, 0)])
    assert la.update([Token(2, " a", 1.0, 0, 0)]) == ("a", "", "a")


def test_empty_hypotheses():
    la = LocalAgreement()
    assert la.update([]) == ("", "", "")
    assert la.update([]) == ("", "", "")


def test_outer_whitespace_is_trimmed_and_text_is_stable_plus_unstable():
    la = LocalAgreement()
    la.update(toks(1, 2))
    text, stable, unstable = la.update(toks(1, 2, 3, text=lambda i: "  x " if i == 3 else f" t{i}"))
    assert (text, stable, unstable) == ("t1 t2  x", "t1", " t2  x")


hypotheses = st.lists(st.lists(st.integers(0, 4), max_size=8), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(hypotheses)
def test_properties_over_random_hypothesis_sequences(seq):
    la = LocalAgreement()
    stable_ids: list[int] = []
    stable_text = ""
    previous = None
    for ids in seq:
        text, stable, unstable = la.update(toks(*ids))
        now = [t.id for t in la.stable_tokens]
        assert text == stable + unstable
        assert now[:len(stable_ids)] == stable_ids          # never shrinks or changes
        assert stable.startswith(stable_text)
        if previous is not None and now != stable_ids:      # grew: both of the last two agree
            assert ids[:len(now)] == now and previous[:len(now)] == now
        stable_ids, stable_text, previous = now, stable, ids


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
    """An agreement that has heard ``text`` twice: its words but the last are stable."""
    la = LocalAgreement()
    la.update(words(text))
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
    la = LocalAgreement()
    la.update(words("open late on Thursday"))
    assert la.update(words("open late on Thursday")) == (
        "open late on Thursday", "open late on", " Thursday")
    # A word token followed by a suffix ("walk" + "ed") is not a whole word either.
    la = LocalAgreement()
    walk, ed, along = Token(1, " walk", 1.0, 0, 0), Token(2, "ed", 1.0, 0, 0), Token(3, " along", 1.0, 0, 0)
    la.update([walk, along])
    assert la.update([walk, ed, along]) == ("walked along", "", "walked along")


def test_a_stable_word_does_not_line_up_with_the_same_word_far_later():
    la = settled("A kid")   # stable "A"
    # Lining "A" up with the "a" of "built a sandcastle" would drop "children built".
    assert la.update(words("The children built a sandcastle."))[0] == "A children built a sandcastle."
