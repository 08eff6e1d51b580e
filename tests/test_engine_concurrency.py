"""Engine(concurrency=N): N calls decode at once on one model in memory and give what one engine
gives one call at a time; on_segment hands over every segment of the result once, in order."""

import asyncio
import threading

import pytest
from _engine_util import HELLO_WAV, hello
from lumina.testing import speechlike

from lumina import ArgumentError, Engine, PhraseCache
from lumina.asr.backend import WhisperModel
from lumina.asr.model_pool import ContextPool
from lumina.asr.shared_model import SharedModel

CLIPS = [speechlike(1.0 + i / 2, seed=i) for i in range(6)]


def _ids(transcript):
    return [[t.id for t in s.tokens] for s in transcript.segments]


def _model_of(engine):
    engine.wait_ready()
    return engine._future.result().model


@pytest.fixture(scope="module")
def one_at_a_time(micro_model):
    with Engine(micro_model, threads=1) as engine:
        yield engine


@pytest.fixture(scope="module")
def sequential(one_at_a_time):
    return [_ids(one_at_a_time.transcribe(c)) for c in CLIPS]


@pytest.fixture(scope="module")
def two_at_once(micro_model):
    with Engine(micro_model, threads=1, concurrency=2) as engine:
        yield engine


def test_the_default_is_one_state_of_a_shared_model(one_at_a_time):
    model = _model_of(one_at_a_time)
    assert type(model) is SharedModel and model.concurrency == one_at_a_time.concurrency == 1
    assert "concurrency" not in repr(one_at_a_time)


def test_concurrency_shares_one_model_and_decodes_side_by_side(two_at_once, sequential):
    model = _model_of(two_at_once)
    assert isinstance(model, SharedModel) and model.concurrency == 2
    both_inside = threading.Barrier(2, timeout=120)  # broken unless two decodes run at the same time
    results = [None] * len(CLIPS)

    def meet(_segment):
        if not both_inside.broken:
            both_inside.wait()

    def work(i):
        results[i] = _ids(two_at_once.transcribe(CLIPS[i], on_segment=meet if i < 2 else None))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(CLIPS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not both_inside.broken
    assert results == sequential
    assert model.max_busy == 2 and model.busy == 0
    assert "concurrency=2" in repr(two_at_once)


def test_asyncio_tasks_on_a_concurrent_engine_get_the_sequential_tokens(two_at_once, sequential):
    async def main():
        return await asyncio.gather(*(two_at_once.transcribe_async(c) for c in CLIPS))

    assert [_ids(t) for t in asyncio.run(main())] == sequential


def test_one_at_a_time_means_no_overlap(one_at_a_time, sequential):
    """should_abort is polled inside whisper.cpp: with one context the calls' polls never interleave."""
    polls: list[int] = []
    results = [None] * 3

    def work(i):
        def poll():
            polls.append(i)
            return False
        results[i] = _ids(one_at_a_time.transcribe(CLIPS[i], should_abort=poll))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runs = [p for j, p in enumerate(polls) if j == 0 or polls[j - 1] != p]
    assert sorted(runs) == [0, 1, 2]
    assert results == sequential[:3]


def test_contexts_instead_of_states_when_asked(micro_model, sequential):
    with Engine(micro_model, threads=1, concurrency=2, shared_weights=False) as engine:
        assert isinstance(_model_of(engine), ContextPool)
        assert [_ids(engine.transcribe(c)) for c in CLIPS[:2]] == sequential[:2]


def test_one_state_reports_no_speech_prob_and_a_context_the_same_tokens(micro_model, one_at_a_time):
    with Engine(micro_model, threads=1, shared_weights=False) as engine:
        assert type(_model_of(engine)) is WhisperModel
        want = engine.transcribe(HELLO_WAV)
    got = one_at_a_time.transcribe(HELLO_WAV)
    assert _ids(got) == _ids(want) and got.text == want.text
    assert all(isinstance(s.no_speech_prob, float) for s in got.segments)
    assert all(s.no_speech_prob is None for s in want.segments)


@pytest.mark.parametrize("kwargs", [{"concurrency": 0}, {"concurrency": 2.0}, {"concurrency": True},
                                    {"shared_weights": "yes"}])
def test_bad_concurrency_arguments_are_refused(micro_model, kwargs):
    with pytest.raises(ArgumentError):
        Engine(micro_model, preload=False, **kwargs)


# ---------------------------------------------------------------------- on_segment

@pytest.mark.parametrize("engine_fixture", ["one_at_a_time", "two_at_once"])
def test_on_segment_sees_each_segment_of_the_result_while_decoding(request, engine_fixture):
    engine = request.getfixturevalue(engine_fixture)
    seen, threads = [], set()

    def on_segment(segment):
        seen.append(segment)
        threads.add(threading.current_thread().name)

    result = engine.transcribe(hello(), word_timestamps=True, on_segment=on_segment)
    assert len(result.segments) >= 2
    assert tuple(seen) == result.segments
    assert threads == {threading.current_thread().name}  # inside whisper.cpp's call, on this thread


def test_on_segment_gets_the_segments_of_answers_without_a_live_decode(micro_model):
    with Engine(micro_model, threads=1, cache=PhraseCache()) as engine:
        first, from_cache, fast = [], [], []
        decoded = engine.transcribe(hello(), on_segment=first.append)
        cached = engine.transcribe(hello(), on_segment=from_cache.append)
        quick = engine.transcribe(speechlike(2.0), speed="fast", on_segment=fast.append)
        short = engine.transcribe(speechlike(0.05), on_segment=fast.append)
    assert cached.from_cache and tuple(from_cache) == cached.segments
    assert tuple(first) == decoded.segments
    assert quick.speed == "fast" and tuple(fast) == quick.segments  # the fast result, once
    assert short.segments == ()


def test_an_on_segment_error_is_raised_after_the_decode(one_at_a_time, two_at_once):
    calls = []

    def fails(segment):
        calls.append(segment)
        raise LookupError("the caller's bug")

    for engine in (one_at_a_time, two_at_once):
        calls.clear()
        with pytest.raises(LookupError, match="the caller's bug"):
            engine.transcribe(hello(), on_segment=fails)
        assert len(calls) == 1  # nothing after the error
        assert engine.transcribe(CLIPS[0]).text  # the engine works on


def test_a_non_callable_on_segment_is_refused(one_at_a_time):
    with pytest.raises(ArgumentError, match="on_segment"):
        one_at_a_time.transcribe(hello(), on_segment="print")
