"""The pure partial/final scheduler, driven directly: exact due positions, skips, aborts, arrivals."""

import numpy as np
import pytest

from lumina import Segmenter
from lumina.streaming.scheduler import ArrivalLog, Scheduler
from _vad_util import SR, silence

CHUNK = 320


def tone(seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (0.1 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)


# 1 s silence, 1 s tone (speech from 16000 to 32000), 1 s silence; a fixed threshold
# so the tone stays speech.
AUDIO = np.concatenate([silence(1.0), tone(1.0), silence(1.0)])


def drive(lockstep: bool, busy=lambda dues: False, audio=AUDIO, step=0.25):
    """(scheduler, stream positions where a partial was due, finals as tuples)."""
    sched = Scheduler(Segmenter(vad="energy", threshold_db=-40.0), step, lockstep=lockstep)
    dues, finals = [], []
    for k, i in enumerate(range(0, len(audio), CHUNK)):
        for due in sched.feed(audio[i:i + CHUNK], arrival=1000.0 + k):
            finals.append((due.end.utterance_id, due.end.start_sample, due.end.end_sample,
                           due.arrival, due.abort_partial))
        if sched.partial_due(busy(dues)):
            dues.append((sched.open_utterance, sched.segmenter.samples_fed))
    for due in sched.flush(arrival=-1.0):
        finals.append((due.end.utterance_id, due.end.start_sample, due.end.end_sample,
                       due.arrival, due.abort_partial))
    return sched, dues, finals


def test_lockstep_makes_a_partial_due_every_step_of_an_open_utterance():
    sched, dues, finals = drive(lockstep=True)
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
    sched, dues, finals = drive(lockstep=False, busy=lambda dues: bool(dues))
    assert dues == [(0, 20160)]
    # Busy from 20160 on: the step intervals ending at 24160+, 28160+ and 32160+ are skipped,
    # once each (the utterance stays open until the VAD's hangover has passed).
    assert sched.skipped_steps == 3
    assert finals == [(0, 16000, 32000, 1099.0, True)]


def test_live_mode_with_an_idle_decoder_schedules_like_lockstep_but_aborts():
    sched, dues, finals = drive(lockstep=False)
    assert dues == drive(lockstep=True)[1]
    assert [f[-1] for f in finals] == [True]
    assert sched.skipped_steps == 0


def test_an_utterance_without_a_partial_is_not_aborted():
    # Open for 0.2 s of tone and the 0.3 s hangover: shorter than a 1 s step.
    short = np.concatenate([silence(1.0), tone(0.2), silence(1.0)])
    sched, dues, finals = drive(lockstep=False, audio=short, step=1.0)
    assert dues == []
    assert [(f[0], f[-1]) for f in finals] == [(0, False)]


def test_nothing_due_returns_the_shared_empty_tuple():
    sched = Scheduler(Segmenter(), 0.25)
    first = sched.feed(silence(0.02))
    assert first == () and sched.feed(silence(0.02)) is first
    assert sched.partial_due(False) is False


def test_step_is_counted_in_samples_of_the_segmenter_rate():
    assert Scheduler(Segmenter(), 0.25).step_samples == 4000
    assert Scheduler(Segmenter(), 0.1).step_samples == 1600


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
