"""Engine: loading, transcription equal to the reference path, concurrency, bad input."""

import asyncio
import subprocess
import sys
import threading

import numpy as np
import pytest
from _child_util import child_env
from _engine_util import HELLO_WAV, hello, reference_tokens
from _server_util import until
from lumina.asr.backend import DecodeOptions, full_params
from lumina.testing import speechlike

import lumina
import lumina.asr.backend
from lumina import (
    ArgumentError,
    AudioFormatError,
    Engine,
    ModelIntegrityError,
    ModelNotFoundError,
    ModelStore,
    StateError,
    TranscriptionAborted,
)
from lumina.asr.speed import FAST_MIN_AUDIO_CTX, fast_audio_ctx, has_repetition_loop


def _token_ids(transcript):
    return [[t.id for t in s.tokens] for s in transcript.segments]


@pytest.fixture(scope="module")
def micro_engine(micro_model):
    with Engine(micro_model) as engine:
        engine.wait_ready()
        yield engine


# ----------------------------------------------------------------------------- accuracy

@pytest.mark.parametrize("model_fixture", ["micro_model", "tiny_en_model"])
def test_accurate_tokens_equal_pywhispercpp_model_transcribe(request, model_fixture):
    path = request.getfixturevalue(model_fixture)
    audio = hello()
    with Engine(path, threads=2) as engine:
        transcript = engine.transcribe(audio)
    assert _token_ids(transcript) == reference_tokens(path, audio)
    assert transcript.text == " ".join(s.text for s in transcript.segments)
    assert transcript.text != ""
    assert (transcript.device, transcript.speed, transcript.from_cache) == ("cpu", "accurate", False)
    assert transcript.language == "en"


def test_parameters_do_not_leak_between_calls(micro_engine, micro_model):
    audio = hello()
    first = micro_engine.transcribe(audio)
    micro_engine.transcribe(audio[:16000], speed="fast", prompt="hello there", word_timestamps=True)
    again = micro_engine.transcribe(audio)
    assert _token_ids(first) == _token_ids(again) == reference_tokens(micro_model, audio)
    assert all(t.start == t.end == 0.0 for s in again.segments for t in s.tokens)


def test_a_prompt_is_passed_to_the_decoder_with_one_leading_space(micro_engine, micro_model):
    audio = speechlike(2.0)
    with_prompt = micro_engine.transcribe(audio, prompt="lumina  ")
    assert _token_ids(with_prompt) == reference_tokens(micro_model, audio, initial_prompt=" lumina")
    assert full_params(DecodeOptions(n_threads=1, prompt="  lumina ")).initial_prompt == " lumina"


def test_word_timestamps_fill_token_times_within_the_audio(micro_engine):
    transcript = micro_engine.transcribe(hello(), word_timestamps=True)
    tokens = [t for s in transcript.segments for t in s.tokens]
    assert tokens
    assert all(0.0 <= t.start <= t.end <= 4.7 + 0.01 for t in tokens)
    assert any(t.end > 0 for t in tokens)


def test_inputs_of_every_kind_give_the_same_transcript(micro_engine, tmp_path):
    audio = hello()
    reference = _token_ids(micro_engine.transcribe(audio))
    stereo48k = lumina.load_audio(HELLO_WAV, 48000)
    lumina.write_wav(tmp_path / "hello48.wav", np.stack([stereo48k, stereo48k], axis=1), 48000,
                     subtype="FLOAT")
    assert _token_ids(micro_engine.transcribe(HELLO_WAV)) == reference
    assert _token_ids(micro_engine.transcribe(str(HELLO_WAV))) == reference
    assert _token_ids(micro_engine.transcribe(HELLO_WAV.read_bytes())) == reference
    with open(HELLO_WAV, "rb") as f:
        assert _token_ids(micro_engine.transcribe(f)) == reference
    assert _token_ids(micro_engine.transcribe(audio.astype(np.float64)[::-1][::-1])) == reference
    resampled = micro_engine.transcribe(tmp_path / "hello48.wav")
    assert resampled.segments  # a resampled copy: same speech, tokens may differ by rounding


# ----------------------------------------------------------------------------- fast mode

def test_fast_audio_ctx_covers_the_audio_in_whole_blocks_of_256_frames():
    assert fast_audio_ctx(16000) == FAST_MIN_AUDIO_CTX == 256
    assert fast_audio_ctx(16000 * 4) == 256  # 200 frames + 32 margin, raised to the floor
    assert fast_audio_ctx(224 * 320) == 256  # 224 + 32 fills one block exactly
    assert fast_audio_ctx(224 * 320 + 1) == 512
    assert fast_audio_ctx(16000 * 5) == 512  # 250 frames + 32 margin
    assert fast_audio_ctx(16000 * 10) == 768
    assert fast_audio_ctx(16000 * 29) == 1500  # capped at the model's full context
    assert fast_audio_ctx(16000 * 40) == 1500


def test_repetition_loops_are_detected():
    assert has_repetition_loop([5, 5, 5, 5])
    assert has_repetition_loop([1, 2, 3, 7, 8, 7, 8, 7, 8, 7, 8])
    assert not has_repetition_loop([7, 8, 7, 8, 7, 8])
    assert not has_repetition_loop([1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert not has_repetition_loop([])


def test_fast_mode_is_never_the_default_and_says_what_ran(micro_engine):
    audio = hello()
    assert micro_engine.transcribe(audio).speed == "accurate"
    fast = micro_engine.transcribe(audio[:32000], speed="fast")
    assert fast.speed == "fast"
    assert fast.segments and all(s.end <= 2.0 + 0.64 for s in fast.segments)


def test_fast_mode_on_audio_longer_than_the_window_runs_accurately(micro_engine):
    long_audio = np.tile(speechlike(5.0), 7)  # 35 s
    assert micro_engine.transcribe(long_audio, speed="fast").speed == "accurate"


@pytest.mark.parametrize("speed", ["turbo", "x", None, 1])
def test_unknown_speed_is_refused(micro_engine, speed):
    with pytest.raises(ArgumentError, match=f"speed must be 'accurate' or 'fast', not {speed!r}"):
        micro_engine.transcribe(hello(), speed=speed)


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("n", [0, 1, 1599])
def test_audio_under_100_ms_gives_an_empty_transcript_with_a_reason(micro_engine, n):
    transcript = micro_engine.transcribe(np.zeros(n, np.float32))
    assert transcript.text == "" and transcript.segments == ()
    assert transcript.reason == f"audio is {n / 16:.0f} ms long; whisper needs at least 100 ms"
    assert transcript.device == "none"


def test_exactly_100_ms_runs_the_model(micro_engine):
    transcript = micro_engine.transcribe(speechlike(0.1))
    assert transcript.device == "cpu" and transcript.timings.encode > 0  # the model ran
    # (the micro model writes nothing for 100 ms, and an empty transcript says why)
    assert transcript.text == "" and transcript.reason == "no speech: whisper wrote nothing"


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_raise_audio_format_error(micro_engine, bad):
    audio = speechlike(1.0)
    audio[1234] = bad
    with pytest.raises(AudioFormatError, match="1234"):
        micro_engine.transcribe(audio)
    assert micro_engine.transcribe(speechlike(1.0)).device == "cpu"  # still usable


def test_undecodable_audio_raises_audio_format_error(micro_engine):
    with pytest.raises(AudioFormatError):
        micro_engine.transcribe(b"RIFF\x00\x00\x00\x00WAVEjunk")


def test_missing_model_is_raised_by_wait_ready_and_by_the_next_call(tmp_path):
    store = ModelStore(tmp_path / "store", offline=True)
    engine = Engine("base.en", store=store)  # returns at once; the error comes later
    with pytest.raises(ModelNotFoundError) as raised:
        engine.wait_ready()
    message = str(raised.value)
    assert "ggml-base.en.bin" in message and str(tmp_path / "store") in message
    with pytest.raises(ModelNotFoundError):
        engine.transcribe(hello())
    engine.close()


def test_missing_model_path_names_the_file(tmp_path):
    with Engine(tmp_path / "nope.bin") as engine:
        with pytest.raises(ModelNotFoundError, match="nope.bin"):
            engine.wait_ready()


def test_malformed_model_is_refused_before_whisper_cpp_sees_it(tmp_path, micro_model):
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(micro_model.read_bytes()[:1_000_000])
    with Engine(truncated) as engine:
        with pytest.raises(ModelIntegrityError, match="truncated"):
            engine.wait_ready()


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_invalid_thread_count_is_refused(threads):
    with pytest.raises(ArgumentError, match=f"threads must be an int >= 1 or None, got {threads!r}"):
        Engine("tiny.en", threads=threads, preload=False)


@pytest.mark.parametrize("model", [None, 3, b"tiny.en"])
def test_a_model_that_is_no_name_or_path_is_refused(model):
    with pytest.raises(ArgumentError, match="model must be a registry name or the path"):
        Engine(model, preload=False)


def test_closed_engine_refuses_calls(micro_model):
    engine = Engine(micro_model)
    engine.wait_ready()
    engine.close()
    for call in (lambda: engine.transcribe(hello()), engine.wait_ready):
        with pytest.raises(StateError, match=rf"the engine is closed \(model '{micro_model}'\); create a new Engine"):
            call()
    engine.close()  # twice is harmless


def test_should_abort_stops_a_synchronous_call_with_transcription_aborted(micro_engine):
    polls = []

    def abort():
        polls.append(1)
        return True

    with pytest.raises(TranscriptionAborted, match="stopped by should_abort"):
        micro_engine.transcribe(hello(), should_abort=abort)
    assert polls  # whisper.cpp asked
    assert micro_engine.transcribe(speechlike(1.0)).device == "cpu"  # still usable


def test_should_abort_in_transcribe_async_raises_transcription_aborted(micro_engine):
    async def main():
        return await micro_engine.transcribe_async(hello(), should_abort=lambda: True)

    with pytest.raises(TranscriptionAborted):
        asyncio.run(main())


@pytest.mark.parametrize("rate", [0, -1, 1.5, True, "16000"])
def test_a_bad_sample_rate_for_an_array_is_refused(micro_engine, rate):
    # sample_rate=0 used to mean 16 kHz silently.
    with pytest.raises(AudioFormatError, match="sample_rate must be"):
        micro_engine.transcribe(speechlike(1.0), sample_rate=rate)


def test_sample_rate_with_a_file_is_refused(micro_engine):
    with pytest.raises(AudioFormatError, match="sample_rate applies only to arrays"):
        micro_engine.transcribe(HELLO_WAV, sample_rate=16000)


def test_importing_lumina_leaves_whisper_cpp_logging_alone_until_a_model_loads(micro_model, tmp_path):
    # whisper.cpp has one process-wide log callback; only loading a model may take it over.
    # A child process, since this one has loaded models already.
    code = f"""
import _pywhispercpp as pw
seen = []
pw.whisper_log_set(lambda level, text: seen.append(text))
import lumina
from lumina.asr import backend
pw.whisper_init_from_file_with_params("/nonexistent/x.bin", pw.whisper_context_default_params())
print(backend._logs_installed, sum("/nonexistent/x.bin" in t for t in seen))
before = len(seen)
with lumina.Engine({str(micro_model)!r}, warmup=False) as engine:
    engine.wait_ready()
print(backend._logs_installed, len(seen) - before)
"""
    env = child_env()
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                           timeout=120, cwd=tmp_path)
    assert child.returncode == 0, child.stderr
    # After import: the application's callback still gets whisper.cpp's lines (2 of them).
    # After a load: lumina's capture has them; the application's callback saw none of the load.
    assert child.stdout.split("\n") == ["False 2", "True 0", ""]


# ----------------------------------------------------------------------------- loading

def test_preload_false_loads_on_first_call(micro_model):
    with Engine(micro_model, preload=False) as engine:
        assert not engine.is_ready and engine.device is None
        transcript = engine.transcribe(speechlike(1.0))
        assert engine.is_ready and engine.device == "cpu"
        assert transcript.timings.load > 0


def test_timings_add_up(micro_engine):
    t = micro_engine.transcribe(HELLO_WAV).timings
    assert t.audio > 0 and t.encode > 0 and t.decode > 0
    assert t.load + t.audio + t.encode + t.decode <= t.total


# ----------------------------------------------------------------------------- concurrency

def test_many_threads_get_what_a_sequential_run_gives(micro_engine):
    clips = [speechlike(1.0 + i / 2, seed=i) for i in range(6)]
    sequential = [_token_ids(micro_engine.transcribe(c)) for c in clips]
    results = [None] * len(clips)

    def work(i):
        results[i] = _token_ids(micro_engine.transcribe(clips[i]))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(clips))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == sequential


def test_asyncio_tasks_get_what_a_sequential_run_gives(micro_engine):
    clips = [speechlike(1.5, seed=i) for i in range(4)]
    sequential = [_token_ids(micro_engine.transcribe(c)) for c in clips]

    async def main():
        return await asyncio.gather(*(micro_engine.transcribe_async(c) for c in clips))

    assert [_token_ids(t) for t in asyncio.run(main())] == sequential


def test_the_event_loop_keeps_running_while_loading_and_transcribing(tiny_en_model):
    async def main():
        ticks = 0
        done = asyncio.Event()

        async def ticker():
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.005)

        task = asyncio.create_task(ticker())
        engine = Engine(tiny_en_model)
        await engine.ready()
        ticks_after_load = ticks
        await engine.transcribe_async(hello())
        done.set()
        await task
        engine.close()
        return ticks_after_load, ticks

    after_load, total = asyncio.run(main())
    # The ticker kept running during the load and during inference (each takes > 0.1 s).
    assert after_load >= 3 and total - after_load >= 3


def test_cancelling_an_async_transcription_stops_it_and_keeps_the_engine(tiny_en_model):
    runs, decoding = [], threading.Event()

    def watched(run):
        """The model's run, recording whether each decode was aborted or ran to its end."""
        def run_and_record(samples, options, should_abort=None, *more):
            def polled():
                decoding.set()           # whisper.cpp is decoding and asks whether to stop
                return should_abort()
            result = run(samples, options, polled, *more)
            runs.append(result.aborted)
            return result
        return run_and_record

    async def main():
        engine = Engine(tiny_en_model)
        await engine.ready()
        model = engine._loaded()[0].model
        model.run = watched(model.run)
        task = asyncio.create_task(engine.transcribe_async(hello()))
        assert await asyncio.to_thread(decoding.wait, 60)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await until(lambda: runs)            # the worker's decode has returned
        after = await engine.transcribe_async(speechlike(1.0))
        engine.close()
        return after

    after = asyncio.run(main())
    assert runs == [True, False]   # the cancelled decode stopped early; the next one ran whole
    assert after.device == "cpu"


def test_ready_raises_the_load_error_in_asyncio(tmp_path):
    async def main():
        engine = Engine(tmp_path / "missing.bin")
        try:
            await engine.ready()
        finally:
            engine.close()

    with pytest.raises(ModelNotFoundError, match="missing.bin"):
        asyncio.run(main())


# ----------------------------------------------------------------------------- cache hook

class RecordingCache:
    """The PhraseCache interface, exact-match only, recording what it is asked."""

    def __init__(self):
        self.entries, self.calls = {}, []

    def get(self, audio, key):
        self.calls.append(("get", key))
        return self.entries.get((audio.tobytes(), key))

    def put(self, audio, key, text):
        self.calls.append(("put", key))
        self.entries[(audio.tobytes(), key)] = text


def test_the_cache_answers_repeats_and_the_key_carries_the_options(micro_model):
    cache = RecordingCache()
    audio = hello()
    with Engine(micro_model, cache=cache) as engine:
        first = engine.transcribe(audio)
        second = engine.transcribe(audio)
        other_prompt = engine.transcribe(audio, prompt="names")
    assert (first.from_cache, second.from_cache, other_prompt.from_cache) == (False, True, False)
    assert second.text == first.text and second.device == "cache"
    assert second.segments[0].end == pytest.approx(len(audio) / 16000)
    keys = [k for op, k in cache.calls]
    assert keys[0] == keys[1] == keys[2] != keys[4]
    assert [op for op, _ in cache.calls] == ["get", "put", "get", "get", "put"]


# ----------------------------------------------------------------------------- devices

def test_devices_lists_cpu_first_and_what_the_build_lacks():
    found = lumina.devices()
    assert [d.name for d in found] == ["cpu", "cuda", "vulkan", "metal"]
    assert found[0].available and found[0].detail == lumina.asr.backend.system_info().split("CPU :")[1].strip(" |")


def test_a_named_gpu_the_build_lacks_is_a_device_error(micro_model, monkeypatch):
    import lumina.asr.device as devices_module

    monkeypatch.setattr(devices_module, "compiled_gpu_backends", lambda: [])
    with Engine(micro_model, device="cuda") as engine:
        with pytest.raises(lumina.DeviceError, match="device='cuda' needs the CUDA backend"):
            engine.wait_ready()
    with Engine(micro_model, device="auto") as engine:
        engine.wait_ready()
        assert engine.device == "cpu"


def test_auto_falls_back_to_the_cpu_with_a_warning_when_the_gpu_fails(micro_model, monkeypatch):
    import lumina.asr.device as devices_module

    # A build that claims CUDA, on a machine where whisper.cpp finds no GPU to use.
    monkeypatch.setattr(devices_module, "compiled_gpu_backends", lambda: ["cuda"])
    with pytest.warns(RuntimeWarning, match="GPU initialisation failed"):
        with Engine(micro_model, device="auto") as engine:
            engine.wait_ready()
            transcript = engine.transcribe(speechlike(1.0))
    assert transcript.device == "cpu"


@pytest.mark.parametrize("device", ["tpu", None, 0])
def test_unknown_device_is_a_device_error_at_once(micro_model, device):
    with pytest.raises(lumina.DeviceError, match=f"unknown device {device!r}; use one of auto, cpu"):
        Engine(micro_model, device=device)


def test_segment_times_lie_within_the_audio(micro_engine, tiny_en_model):
    # The tiny.en-shaped model decodes without timestamp tokens, for which
    # whisper.cpp reports a start of -1007 s; the engine clamps into the audio.
    with Engine(tiny_en_model) as engine:
        short = engine.transcribe(speechlike(2.0))
    cases = [(micro_engine.transcribe(hello()), len(hello()) / 16000), (short, 2.0)]
    for transcript, duration in cases:
        assert transcript.segments
        assert all(0.0 <= s.start <= s.end <= duration for s in transcript.segments)
    assert (short.segments[0].start, short.segments[-1].end) == (0.0, 2.0)
