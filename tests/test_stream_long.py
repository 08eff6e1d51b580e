"""Ten minutes of speech through a Stream faster than real time: memory stays flat, nothing leaks."""

import gc
import resource
import threading
import tracemalloc

import numpy as np
import pytest

from lumina import StreamOptions
from lumina import Engine, Final, Partial, Segmenter, Stream
from lumina.streaming import SpeechEnd
from lumina.testing import make_model
from _stream_util import MICRO_SEED
from _vad_util import SR
from lumina.evaluation.utterances import silence, speak

pytestmark = pytest.mark.slow

MINUTES = 10
CHUNK = SR // 10


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


@pytest.mark.speech
def test_ten_minutes_of_speech_memory_flat_and_no_thread_left(tmp_path):
    a = speak("Open the pod bay doors please", tmp_path / "a.wav")
    b = speak("Turn on the kitchen lights", tmp_path / "b.wav")
    cycle = np.concatenate([a, silence(1.0), b, silence(1.0)]).astype(np.float32)
    n_cycles = int(np.ceil(MINUTES * 60 * SR / len(cycle)))

    def chunks():
        for _ in range(n_cycles):
            for i in range(0, len(cycle), CHUNK):
                yield cycle[i:i + CHUNK]

    seg = Segmenter()
    expected = sum(isinstance(e, SpeechEnd) for c in chunks() for e in seg.feed(c))
    expected += sum(isinstance(e, SpeechEnd) for e in seg.flush())
    assert expected == 2 * n_cycles

    baseline_threads = set(threading.enumerate())
    with Engine(make_model(tmp_path / "m.bin", "micro", seed=MICRO_SEED), threads=1) as engine:
        engine.wait_ready()
        finals, partials, final_ids = 0, 0, []
        tracemalloc.start()
        # Lockstep: every step gets its partial, so both decode paths run all the way.
        stream = Stream(engine, source=chunks(), options=StreamOptions(step=0.5, lockstep=True))
        marks = {}
        for event in stream:
            if isinstance(event, Final):
                finals += 1
                final_ids.append(event.utterance_id)
            elif isinstance(event, Partial):
                partials += 1
            if "warm" not in marks and stream.stats.audio_s >= 120:
                gc.collect()
                marks["warm"] = (tracemalloc.get_traced_memory()[0], rss_bytes())
        stream.join()
        gc.collect()
        traced_end, rss_end = tracemalloc.get_traced_memory()[0], rss_bytes()
        tracemalloc.stop()
        stats = stream.stats
    assert set(threading.enumerate()) == baseline_threads
    assert stats.audio_s == pytest.approx(n_cycles * len(cycle) / SR)
    assert stats.audio_s >= MINUTES * 60
    assert finals == expected and final_ids == list(range(expected))
    assert partials > 0 and stats.dropped_samples == 0
    traced_warm, rss_warm = marks["warm"]
    assert traced_end - traced_warm < 1 << 20, (traced_warm, traced_end)   # Python heap: < 1 MiB growth
    assert rss_end - rss_warm < 16 << 20, (rss_warm, rss_end)              # process: < 16 MiB growth
