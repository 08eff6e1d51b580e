"""One model in memory, N whisper.cpp states: the same tokens as a plain context, calls that really
overlap, one whisper.cpp library in the process, a layout check that catches a shifted struct, and
the fallback to contexts."""

import ctypes as C
import dataclasses
import threading

import numpy as np
import pytest
from _engine_util import hello
from lumina.testing import speechlike
from _shared_util import first_step, with_likely_no_speech

from lumina.asr import whisper_abi
from lumina.asr.backend import DecodeOptions, WhisperModel
from lumina.asr.model_pool import ContextPool, load_model
from lumina.asr.shared_model import SharedModel
from lumina.errors import ArgumentError, BackendError

CLIPS = [speechlike(1.0 + i / 2, seed=i) for i in range(4)]


def _plain(segments):
    """Segments without no_speech_prob, which only the state path reads."""
    return tuple(dataclasses.replace(s, no_speech_prob=None) for s in segments)


def _options(**kw):
    return DecodeOptions(n_threads=1, language="en", **kw)


@pytest.fixture(scope="module")
def micro_shared(micro_model):
    model = SharedModel(micro_model, 2)
    yield model
    model.close()


@pytest.fixture(scope="module")
def micro_plain(micro_model):
    model = WhisperModel(micro_model)
    yield model
    model.close()


@pytest.mark.parametrize("model_fixture", ["micro_model", "tiny_en_model"])
def test_every_state_decodes_what_a_plain_context_decodes(request, model_fixture):
    path = request.getfixturevalue(model_fixture)
    audio, options = hello(), _options(token_timestamps=True)
    plain = WhisperModel(path)
    shared = SharedModel(path, 2)
    try:
        want = plain.run(audio, options)
        got = [shared.run(audio, options) for _ in range(3)]  # states are lent in turn: 0, 1, 0
    finally:
        plain.close()
        shared.close()
    assert want.segments and want.segments[0].tokens
    for result in got:
        assert _plain(result.segments) == want.segments  # ids, texts, probabilities, times
        assert (result.language, result.aborted) == (want.language, False)
        assert all(0.0 <= s.no_speech_prob <= 1.0 for s in result.segments)
    assert shared.max_busy == 1


def test_concurrent_calls_overlap_and_decode_what_sequential_calls_decode(micro_shared, micro_plain):
    want = [micro_plain.run(c, _options()).segments for c in CLIPS]
    both_inside = threading.Barrier(2, timeout=120)  # passes only if two decodes are under way at once
    results = [None] * len(CLIPS)

    def meet(_segment):
        if not both_inside.broken:
            both_inside.wait()

    def work(i):
        results[i] = micro_shared.run(CLIPS[i], _options(), on_segment=meet if i < 2 else None).segments

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(CLIPS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not both_inside.broken
    assert [_plain(r) for r in results] == want
    assert micro_shared.max_busy == 2 and micro_shared.busy == 0


def test_a_single_context_never_overlaps_calls(micro_plain):
    """Polls of should_abort happen inside whisper.cpp: one call's polls never interleave with another's."""
    polls: list[int] = []

    def work(i):
        def poll():
            polls.append(i)
            return False
        micro_plain.run(CLIPS[i], _options(), should_abort=poll)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runs = [p for j, p in enumerate(polls) if j == 0 or polls[j - 1] != p]
    assert sorted(runs) == [0, 1, 2]  # each call's polls form one unbroken run


def test_segments_are_reported_while_decoding_in_order(micro_shared):
    seen = []
    result = micro_shared.run(hello(), _options(), on_segment=seen.append)
    assert len(seen) == len(result.segments) >= 2
    assert tuple(seen) == result.segments


def test_no_speech_prob_is_whispers_first_step_probability(micro_model, tmp_path):
    audio = speechlike(3.0)
    path = with_likely_no_speech(micro_model, tmp_path / "nosp.bin", "micro", audio)
    probs, nosp = first_step(path, audio)
    model = SharedModel(path, 1)
    try:
        result = model.run(audio, _options())
    finally:
        model.close()
    assert 0.4 < probs[nosp] < 0.6  # the patched model makes it a coin toss
    assert [s.no_speech_prob for s in result.segments] == [pytest.approx(probs[nosp], rel=1e-5)]


def test_abort_stops_a_state_and_gives_it_back(micro_shared, micro_plain):
    polls = []
    result = micro_shared.run(hello(), _options(), should_abort=lambda: polls.append(1) or len(polls) > 3)
    assert (result.aborted, result.segments) == (True, ())
    assert micro_shared.busy == 0
    assert _plain(micro_shared.run(CLIPS[0], _options()).segments) == micro_plain.run(CLIPS[0], _options()).segments


def test_an_exception_in_a_callback_stops_the_call_and_is_raised_after_it(micro_shared):
    def boom(_segment):
        raise KeyError("from on_segment")

    with pytest.raises(KeyError, match="from on_segment"):
        micro_shared.run(hello(), _options(), on_segment=boom)
    with pytest.raises(ZeroDivisionError):
        micro_shared.run(hello(), _options(), should_abort=lambda: 1 / 0)
    assert micro_shared.busy == 0


def test_close_waits_for_running_calls_and_refuses_later_ones(micro_model):
    model = SharedModel(micro_model, 2)
    entered, release = threading.Event(), threading.Event()
    out = {}

    def hold(_segment):
        entered.set()
        release.wait(60)

    runner = threading.Thread(target=lambda: out.update(r=model.run(hello(), _options(), on_segment=hold)))
    runner.start()
    assert entered.wait(60)
    closer = threading.Thread(target=model.close)
    closer.start()
    closer.join(0.2)
    assert closer.is_alive() and not model.closed  # waits for the call inside whisper.cpp
    release.set()
    runner.join()
    closer.join()
    assert model.closed and not out["r"].aborted and out["r"].segments
    with pytest.raises(BackendError, match="closed"):
        model.run(hello(), _options())
    model.close()  # twice is harmless


@pytest.mark.parametrize("kind", ["shared", "contexts"])
def test_concurrent_closes_during_decodes_free_everything_exactly_once(micro_model, monkeypatch, kind):
    from lumina.asr import shared_model
    freed = []
    if kind == "shared":
        real_free = shared_model._free
        monkeypatch.setattr(shared_model, "_free",
                            lambda lib, ctx, states: (freed.append((ctx, len(states))), real_free(lib, ctx, states)))
        model = SharedModel(micro_model, 2)
    else:
        model = ContextPool(micro_model, 2)
        for context in model._models:
            real_close = context.close
            monkeypatch.setattr(context, "close", lambda c=real_close, m=context: (freed.append((id(m), 1)), c()))
    entered, release = threading.Semaphore(0), threading.Event()
    results = []

    def hold(_segment):
        entered.release()
        release.wait(60)

    decoders = [threading.Thread(target=lambda: results.append(model.run(hello(), _options(), on_segment=hold)))
                for _ in range(2)]
    for t in decoders:
        t.start()
    assert entered.acquire(timeout=60) and entered.acquire(timeout=60)  # both inside whisper.cpp
    closers = [threading.Thread(target=model.close) for _ in range(3)]
    for t in closers:
        t.start()
    for t in closers:
        t.join(0.2)
    assert all(t.is_alive() for t in closers) and not freed  # nobody frees under running decodes
    release.set()
    for t in decoders + closers:
        t.join(60)
    assert model.closed and len(results) == 2 and all(r.segments for r in results)
    assert (freed == [(freed[0][0], 2)]) if kind == "shared" else (len({k for k, _ in freed}) == len(freed) == 2)


def test_one_whisper_cpp_library_in_the_process(micro_shared):
    mapped = whisper_abi.mapped_libwhisper()
    assert len(mapped) == 1
    lib = whisper_abi.library()
    address = C.cast(lib.whisper_full_with_state, C.c_void_p).value
    homes = {path for start, end, path in whisper_abi._maps() if start <= address < end}
    assert homes == set(mapped)


def test_the_layout_check_passes_here_and_catches_a_shifted_struct():
    lib = whisper_abi.library()
    whisper_abi.check_layout(lib)  # whisper.cpp 1.8.x, as installed

    class Before18(C.Structure):  # whisper.h before carry_initial_prompt was added
        _fields_ = [f for f in whisper_abi.FullParams._fields_ if f[0] != "carry_initial_prompt"]

    with pytest.raises(BackendError, match="does not match") as info:
        whisper_abi.check_layout(lib, Before18)
    assert "temperature_inc" in str(info.value) and "carry_initial_prompt" in str(info.value)


def test_a_failed_layout_check_falls_back_to_contexts(micro_model, micro_plain, monkeypatch):
    def refuse():
        raise BackendError("the ctypes layout does not match (simulated)")

    monkeypatch.setattr(whisper_abi, "library", refuse)
    pool = load_model(micro_model, concurrency=2)
    try:
        assert isinstance(pool, ContextPool) and not pool.shares_weights
        assert "simulated" in pool.fallback_reason
        assert pool.run(CLIPS[1], _options()).segments == micro_plain.run(CLIPS[1], _options()).segments
    finally:
        pool.close()
    single = load_model(micro_model, concurrency=1, shared_weights=True)
    assert isinstance(single, WhisperModel) and "simulated" in single.fallback_reason
    single.close()


def test_load_model_shares_weights_unless_told_not_to(micro_model):
    made = [load_model(micro_model), load_model(micro_model, concurrency=2),
            load_model(micro_model, concurrency=1, shared_weights=False),
            load_model(micro_model, concurrency=2, shared_weights=False)]
    try:
        assert [type(m) for m in made] == [SharedModel, SharedModel, WhisperModel, ContextPool]
        assert [m.concurrency for m in made] == [1, 2, 1, 2]
    finally:
        for m in made:
            m.close()


@pytest.mark.parametrize("concurrency", [0, -1, 1.5, True, "2"])
def test_a_bad_concurrency_is_refused(micro_model, concurrency):
    with pytest.raises(ArgumentError):
        SharedModel(micro_model, concurrency)


def test_a_file_whisper_cpp_cannot_load_is_a_backend_error(tmp_path):
    bad = tmp_path / "not-a-model.bin"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(BackendError, match="could not load"):
        SharedModel(bad, 1)


def test_the_weights_load_once_for_all_states(micro_model):
    """whisper.cpp logs the weights' size once per load and its KV cache once per state (RSS: the benchmark)."""
    shared = SharedModel(micro_model, 3)
    try:
        weights = [line for line in shared.load_log if "model size" in line]
        states = [line for line in shared.load_log if "kv self size" in line]
    finally:
        shared.close()
    assert len(weights) == 1 and len(states) == 3  # the weights once, a KV cache per state


def test_audio_must_be_contiguous_float32(micro_shared):
    with pytest.raises(BackendError):
        micro_shared.run(np.zeros(16000, np.float64), _options())
    with pytest.raises(BackendError):
        micro_shared.run(np.zeros(32000, np.float32)[::2], _options())


@pytest.mark.parametrize("kind", [WhisperModel, SharedModel])
def test_special_tokens_are_known_after_close(micro_model, kind):
    """The speech filter asks is_special of every token of a result, which may outlive its
    model; WhisperModel once asked the freed context and crashed the process."""
    model = kind(micro_model, 2) if kind is SharedModel else kind(micro_model)
    eot = model.is_special
    answers = [model.is_special(i) for i in (0, 1000, 50256, 50257, 50363)]
    model.close()
    assert [eot(i) for i in (0, 1000, 50256, 50257, 50363)] == answers == [False, False, True, True, True]
