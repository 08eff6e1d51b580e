"""The pure partial/final scheduler, driven directly: exact due positions, skips, aborts, arrivals."""

import numpy as np
import pytest

from lumina import Segmenter
from lumina.streaming.scheduler import (ArrivalLog, FinalDue, Scheduler, SpeculationCancelled,
                                       SpeculationDue)
from lumina.streaming.hangover import HangoverPolicy
from lumina.streaming.segmenter import SpeechStart
from _vad_util import SR
from lumina.evaluation.utterances import silence

CHUNK = 320


def tone(seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (0.1 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)


# 1 s silence, 1 s tone (speech from 16000 to 32000), 1 s silence; a fixed threshold
# so the tone stays speech.
AUDIO = np.concatenate([silence(1.0), tone(1.0), silence(1.0)])


def drive(lockstep: bool, busy=lambda dues: False, audio=AUDIO, step=0.25, texts=None,
          shown: str | None = None, **options):
    """(scheduler, stream positions where a partial was due, finals as tuples, other dues).

    ``options`` go to the Scheduler; without them it runs the classic schedule
    (no speculation, first partial one step in, fixed hang-over). ``texts`` maps
    a stream position to a text noted after the chunk that reaches it; ``shown``,
    when given, is noted as the text of every partial made due (a decode that hears words).
    """
    options = options or {"eager": False, "first_step": step, "hangover": None}
    sched = Scheduler(Segmenter(vad="energy", threshold_db=-40.0), step, lockstep=lockstep, **options)
    dues, finals, others = [], [], []
    for k, i in enumerate(range(0, len(audio), CHUNK)):
        for due in sched.feed(audio[i:i + CHUNK], arrival=1000.0 + k):
            if isinstance(due, FinalDue):
                finals.append((due.end.utterance_id, due.end.start_sample, due.end.end_sample,
                               due.arrival, due.abort_partial))
            elif not isinstance(due, SpeechStart):   # announced utterances: checked on their own
                others.append(due)
        for position, text in (texts or {}).items():
            if i < position <= i + CHUNK:
                sched.note_text(sched.open_utterance, text)
        if sched.partial_due(busy(dues)):
            dues.append((sched.open_utterance, sched.segmenter.samples_fed))
            if shown is not None:
                sched.note_text(sched.open_utterance, shown)
    for due in sched.flush(arrival=-1.0):
        finals.append((due.end.utterance_id, due.end.start_sample, due.end.end_sample,
                       due.arrival, due.abort_partial))
    return sched, dues, finals, others


def test_lockstep_makes_a_partial_due_every_step_of_an_open_utterance():
    sched, dues, finals, _ = drive(lockstep=True)
    # Speech starts at 16000: steps of 4000 samples, at the first chunk boundary past each.
    assert dues == [(0, 20160), (0, 24320), (0, 28480), (0, 32640)]
    # The utterance ends at 32000, known hangover_ms later; its last sample arrived with
    # chunk 99 (samples 31680..32000). Lockstep never aborts.
    assert finals == [(0, 16000, 32000, 1099.0, False)]
    assert sched.skipped_steps == 0


def test_a_busy_decoder_never_queues_a_partial_in_lockstep():
    # Lockstep ignores busy: the caller waits for the decoder instead.
    assert drive(lockstep=True, busy=lambda dues: True)[1] == drive(lockstep=True)[1]


def test_live_mode_skips_busy_steps_counts_each_interval_once_and_aborts_the_partial():
    sched, dues, finals, _ = drive(lockstep=False, busy=lambda dues: bool(dues))
    assert dues == [(0, 20160)]
    # Busy from 20160 on: the step intervals ending at 24160+, 28160+ and 32160+ are skipped,
    # once each (the utterance stays open until the VAD's hangover has passed).
    assert sched.skipped_steps == 3
    assert finals == [(0, 16000, 32000, 1099.0, True)]


def test_live_mode_with_an_idle_decoder_schedules_like_lockstep_but_aborts():
    sched, dues, finals, _ = drive(lockstep=False)
    assert dues == drive(lockstep=True)[1]
    assert [f[-1] for f in finals] == [True]
    assert sched.skipped_steps == 0


def test_an_utterance_without_a_partial_is_not_aborted():
    # Open for 0.2 s of tone and the 0.3 s hangover: shorter than a 1 s step.
    short = np.concatenate([silence(1.0), tone(0.2), silence(1.0)])
    sched, dues, finals, _ = drive(lockstep=False, audio=short, step=1.0)
    assert dues == []
    assert [(f[0], f[-1]) for f in finals] == [(0, False)]


def test_nothing_due_returns_the_shared_empty_tuple():
    sched = Scheduler(Segmenter(vad="energy"), 0.25)
    first = sched.feed(silence(0.02))
    assert first == () and sched.feed(silence(0.02)) is first
    assert sched.partial_due(False) is False


def test_step_is_counted_in_samples_of_the_segmenter_rate():
    assert Scheduler(Segmenter(vad="energy"), 0.25).step_samples == 4000
    assert Scheduler(Segmenter(vad="energy"), 0.1).step_samples == 1600


@pytest.mark.parametrize("step", [0.1, 0.5])
def test_other_steps(step):
    dues = drive(lockstep=True, step=step)[1]
    positions = [p for _, p in dues]
    gaps = np.diff([16000, *positions])
    assert all(step * SR <= g < step * SR + CHUNK for g in gaps)
    assert positions[-1] >= 32000 - step * SR


def test_arrival_log_answers_the_chunk_holding_a_position_and_wraps():
    log = ArrivalLog(capacity=4)
    for k in range(1, 7):                  # chunks ending at 100, 200, ... 600
        log.note(100 * k, float(k))
    assert log.arrival_of(600, -1.0) == 6.0
    assert log.arrival_of(501, -1.0) == 6.0
    assert log.arrival_of(500, -1.0) == 5.0
    assert log.arrival_of(301, -1.0) == 4.0
    assert log.arrival_of(50, -1.0) == 3.0   # older than the log: its oldest arrival
    assert log.arrival_of(601, -1.0) == -1.0  # not arrived yet: the default
    log.clear()
    assert log.arrival_of(100, -2.0) == -2.0


# ---------------------------------------------------------------- eager end of utterance

EAGER = {"eager": True}                                   # the Scheduler's defaults
SHORT_END = HangoverPolicy(sentence_end_ms=160)           # a shorter hang-over after a sentence end
# A 100 ms pause inside the utterance: speech 16000-24000 and 25600-33600.
GAP = np.concatenate([silence(1.0), tone(0.5), silence(0.1), tone(0.5), silence(1.0)])


def test_the_first_partial_comes_as_soon_as_the_speech_is_confirmed():
    _, dues, _, _ = drive(lockstep=True, shown="words", **EAGER)
    # Speech from 16000; the segmenter confirms it after min_speech_ms (100 ms) at the chunk
    # ending at 17600, and the first partial is due there, then every step (at chunk ends).
    assert dues == [(0, 17600), (0, 21760), (0, 25920), (0, 30080)]
    classic = drive(lockstep=True)[1]
    assert classic[0] == (0, 20160)    # one step after the onset, as before


def test_partials_come_every_first_step_until_one_shows_text():
    # Decodes that hear nothing yet: the next partial 100 ms of audio later, not a step later.
    _, dues, _, _ = drive(lockstep=True, texts={21000: "Hello"}, **EAGER)
    # Text is noted at the chunk reaching 21000: from the partial at 20800 on, a step (4000) apart.
    assert dues == [(0, 17600), (0, 19200), (0, 20800), (0, 24960), (0, 29120)]
    # No partial ever shows words: every 100 ms (1600 samples, at the next 320-sample chunk end)
    # for the first 0.6 s of speech (from 16000 to 25600), then a step (4000) after the last.
    _, dues, _, _ = drive(lockstep=True, **EAGER)
    assert [at for _, at in dues] == [17600, 19200, 20800, 22400, 24000, 28160]


def test_speech_stopping_makes_a_speculation_due_at_once_and_the_final_uses_it():
    sched, dues, finals, others = drive(lockstep=True, shown="words", **EAGER)
    # Speech stops at 32000: once the pause has lasted PAUSE_MIN_MS (two frames, at 32640) the
    # speculation of the audio up to 32000 is due (its last sample arrived with chunk 99).
    assert others == [SpeculationDue(0, 32000, 1099.0, False)]
    assert sched.segmenter.tentative_end is None        # flushed
    assert finals == [(0, 16000, 32000, 1099.0, False)]
    assert dues[-1] == (0, 30080)                        # no partial while speech is paused


def test_a_moment_of_silence_is_no_pause_and_delays_a_partial_to_the_next_speech_frame():
    # One silent frame (20 ms, < PAUSE_MIN_MS) where a partial step falls due (21760): no
    # speculation, and the partial waits for the speech frame after it (22080), so no decode
    # starts in a silence that may be the start of a pause.
    audio = AUDIO.copy()
    audio[21440:21760] = 0.0
    _, dues, finals, others = drive(lockstep=True, shown="words", audio=audio, **EAGER)
    assert [at for _, at in dues] == [17600, 22080, 26240, 30400]
    assert others == [SpeculationDue(0, 32000, 1099.0, False)]   # only the end of speech
    assert [f[:3] for f in finals] == [(0, 16000, 32000)]


def test_a_resumed_pause_cancels_its_speculation_and_the_next_one_answers_the_final():
    sched = Scheduler(Segmenter(vad="energy", threshold_db=-40.0), 0.25, lockstep=True)
    log = []
    for k, i in enumerate(range(0, len(GAP), CHUNK)):
        for due in sched.feed(GAP[i:i + CHUNK], arrival=float(k)):
            log.append((i + CHUNK, due))
    # A pause is reported (and speculated on) once it has lasted PAUSE_MIN_MS (two frames):
    # at the end of its second silent frame, 24640 and 34240; it still ends where speech stopped.
    assert [(at, type(d).__name__) for at, d in log] == [
        (17600, "SpeechStart"), (24640, "SpeculationDue"), (25920, "SpeculationCancelled"),
        (34240, "SpeculationDue"), (38400, "FinalDue")]
    assert log[0][1] == SpeechStart(0, 16000, 12800)   # the segmenter's event, passed on
    assert log[1][1] == SpeculationDue(0, 24000, 74.0, False)
    assert log[2][1] == SpeculationCancelled(0, 24000)
    assert log[3][1] == SpeculationDue(0, 33600, 104.0, False)
    final = log[4][1]
    assert (final.end.utterance_id, final.end.start_sample, final.end.end_sample, final.speculated) == (
        0, 16000, 33600, True)


def test_a_final_says_whether_the_end_of_the_input_ended_its_utterance():
    def finals(audio):
        sched = Scheduler(Segmenter(vad="energy", threshold_db=-40.0), 0.25, lockstep=True)
        due = [d for i in range(0, len(audio), CHUNK) for d in sched.feed(audio[i:i + CHUNK])]
        return [(d.end.end_sample, d.input_ended) for d in (*due, *sched.flush())
                if isinstance(d, FinalDue)]

    assert finals(AUDIO) == [(32000, False)]                        # a silence ended it
    assert finals(np.concatenate([silence(1.0), tone(1.0)])) == [(32000, True)]   # the input did


@pytest.mark.parametrize("aborted, expected", [(True, [17600, 25920]), (False, [17600, 33600])])
def test_live_mode_makes_up_for_a_partial_aborted_for_a_speculation_when_speech_resumes(aborted, expected):
    sched = Scheduler(Segmenter(vad="energy", threshold_db=-40.0), 1.0)
    due_at = []
    for i in range(0, len(GAP), CHUNK):
        for due in sched.feed(GAP[i:i + CHUNK]):
            if isinstance(due, SpeculationDue) and due.end_sample == 24000:
                assert due.abort_partial      # a partial of utterance 0 was made due (live mode)
                if aborted:                   # ... and was still running: the caller aborted it
                    sched.partial_aborted()
        if sched.partial_due(busy=False):
            due_at.append(i + CHUNK)
            sched.note_text(sched.open_utterance, "words")
    # Steps of 1 s from 17600. Speech resumes at 25600 (known at the chunk ending at 25920):
    # an aborted partial is made up for at once (and the step clock restarts); otherwise the
    # next is a whole step after the first.
    assert due_at == expected


def budget_dues(budget, cost: float, lockstep: bool = False, audio=AUDIO):
    """Stream positions of the partials made due when each partial decode takes ``cost`` seconds
    and shows words (the eager schedule, never busy)."""
    sched = Scheduler(Segmenter(vad="energy", threshold_db=-40.0), 0.25, lockstep=lockstep,
                      decode_budget=budget)
    spent, dues = 0.0, []
    for i in range(0, len(audio), CHUNK):
        sched.feed(audio[i:i + CHUNK])
        sched.note_decoding(sched.open_utterance, spent)
        if sched.partial_due(busy=False):
            dues.append(sched.segmenter.samples_fed)
            sched.note_text(sched.open_utterance, "words")
            spent += cost
    return dues


def test_the_decode_budget_holds_partials_back_until_the_decodes_fit_it():
    # Without a budget: the first partial once speech is confirmed, then a step (4000) apart.
    assert budget_dues(None, 0.05) == [17600, 21760, 25920, 30080]
    # Budget 0.1, 50 ms per decode: the budget starts at the first step past the first words
    # (21760, the first partial's 50 ms not counted); the partial there spends 50 ms, which
    # 0.1 of real time pays for after 8000 samples (0.5 s): the next is due at 29760, not 25920.
    assert budget_dues(0.1, 0.05) == [17600, 21760, 29760]
    # A budget the decodes fit holds nothing back; lockstep ignores the budget (no clock).
    assert budget_dues(0.5, 0.05) == budget_dues(0.1, 0.05, lockstep=True) == budget_dues(None, 0.05)


def test_the_decode_budget_counts_only_the_open_utterance():
    sched = Scheduler(Segmenter(vad="energy", threshold_db=-40.0), 0.25, decode_budget=0.1)
    for i in range(0, 20000, CHUNK):
        sched.feed(AUDIO[i:i + CHUNK])
    sched.note_decoding(sched.open_utterance + 1, 9.0)   # another utterance's decodes: ignored
    sched.note_decoding(sched.open_utterance - 1, 9.0)
    assert sched._decoded_s == 0.0
    sched.note_decoding(sched.open_utterance, 0.25)
    assert sched._decoded_s == 0.25


def test_no_speculation_without_eager():
    _, _, finals, others = drive(lockstep=True, audio=GAP)
    assert others == []
    assert [f[:3] for f in finals] == [(0, 16000, 33600)]


# ---------------------------------------------------------------- adaptive hang-over

def pause_of(seconds):
    """Speech 16000-24000, a pause, speech for 0.5 s again, 1 s of silence."""
    return np.concatenate([silence(1.0), tone(0.5), silence(seconds), tone(0.5), silence(1.0)])


@pytest.mark.parametrize("pause, text, ends", [
    (0.2, None, [33600 + 1600]),                   # 200 ms < the segmenter's 300 ms: one utterance
    (0.2, "Open the door.", [24000, 35200]),       # after a sentence end 160 ms ends it
    (0.2, "Open the door", [35200]),               # no mark: no evidence, 300 ms as before
    (0.5, None, [24000, 40000]),
    (0.5, "I would like,", [40000]),               # after a comma 700 ms keeps it together
    (0.5, "I would like...", [40000]),
])
def test_the_hangover_adapts_to_the_text_of_the_utterance(pause, text, ends):
    # The text is noted at 20000, mid-speech (what a partial decoded by then would say).
    _, _, finals, _ = drive(lockstep=True, audio=pause_of(pause), texts={20000: text} if text else None,
                            eager=True, hangover=SHORT_END)
    assert [f[2] for f in finals] == ends


def test_the_default_sentence_end_hangover_keeps_a_200_ms_pause_together():
    # 300 ms after a sentence end, as the segmenter's own: no split that a fixed one would not make.
    _, _, finals, _ = drive(lockstep=True, audio=pause_of(0.2), texts={20000: "Open the door."}, **EAGER)
    assert [f[2] for f in finals] == [35200]


def test_a_sentence_end_noted_during_a_long_pause_ends_the_utterance_at_the_next_frame():
    seg = Segmenter(vad="energy", threshold_db=-40.0)
    sched = Scheduler(seg, 0.25, lockstep=True, hangover=SHORT_END)
    audio = pause_of(0.5)
    events = []
    for i in range(0, len(audio), CHUNK):
        events += [(i + CHUNK, d) for d in sched.feed(audio[i:i + CHUNK]) if isinstance(d, FinalDue)]
        if i + CHUNK == 20160:
            sched.note_text(0, "wait,")                         # 700 ms
            assert seg.utterance_hangover_ms == 700
        if i + CHUNK == 24000 + 4800:                           # 300 ms into the pause: still open
            assert seg.in_speech and seg.tentative_end == 24000
            sched.note_text(0, "Done.")
            assert seg.utterance_hangover_ms == 160
    assert [(at, d.end.end_sample) for at, d in events][0] == (24000 + 4800 + CHUNK, 24000)


def test_text_of_an_utterance_no_longer_open_changes_nothing():
    seg = Segmenter(vad="energy", threshold_db=-40.0)
    sched = Scheduler(seg, 0.25, hangover=SHORT_END)
    sched.feed(np.concatenate([silence(1.0), tone(0.5)]))
    sched.note_text(7, "Stop.")                               # another utterance's text
    assert seg.utterance_hangover_ms == 300
    sched.note_text(0, "Stop.")
    assert seg.utterance_hangover_ms == 160
    assert Scheduler(Segmenter(vad="energy"), 0.25, hangover=None).hangover is None


def test_hangover_policy_classifies_the_end_of_the_text():
    assert HangoverPolicy() == HangoverPolicy(sentence_end_ms=300, mid_sentence_ms=700, unknown_ms=None)
    policy = SHORT_END
    cases = {"Turn on the lights.": 160, "Really?": 160, "Stop!": 160, '"Go home."': 160,
             "Really?)": 160, "I think,": 700, "so...": 700, "and then…": 700, "the list:": 700,
             "one - ": 700, "": 300, "   ": 300, "Call mom": 300, "w5 w6": 300}
    assert {text: policy.for_text(text, 300) for text in cases} == cases
    assert HangoverPolicy(unknown_ms=400).for_text("Call mom", 300) == 400
    with pytest.raises(ValueError, match="sentence_end_ms must be a number of ms from 0 to 3000"):
        HangoverPolicy(sentence_end_ms=-1)
    with pytest.raises(ValueError, match="mid_sentence_ms must be a number of ms from 0 to 3000, got 'x'"):
        HangoverPolicy(mid_sentence_ms="x")
