"""`lumina serve` over HTTP, driven in-process by the official openai client (httpx's ASGI transport)."""

import asyncio
import io
import json
import math

import numpy as np
import openai
import pytest
import soundfile as sf

from lumina import Engine
from lumina.apps.server import ServerConfig, create_app
from lumina.asr.formats import render
from lumina.models import ModelStore
from lumina.apps.server.languages import language_name
from _engine_util import HELLO_WAV, hello
from _shared_util import with_likely_no_speech
from _server_util import asgi_client, raw_client

HELLO_SECONDS = round(len(hello()) / 16000, 3)


@pytest.fixture(scope="module")
def multilingual_model(tiny_model):
    return tiny_model


@pytest.fixture(scope="module")
def app(micro_model, multilingual_model, tmp_path_factory):
    config = ServerConfig(models={"micro": micro_model, "multi": multilingual_model}, threads=1,
                          store=ModelStore(tmp_path_factory.mktemp("store")))
    app = create_app(config)
    yield app
    asyncio.run(app.state.lumina.aclose())


@pytest.fixture(scope="module")
def reference(micro_model):
    """What Engine.transcribe gives on the same file, on a fresh engine."""
    with Engine(micro_model, threads=1) as engine:
        yield {"plain": engine.transcribe(HELLO_WAV),
               "words": engine.transcribe(HELLO_WAV, word_timestamps=True)}


def call(app, **kwargs):
    async def go():
        return await asgi_client(app, max_retries=0).audio.transcriptions.create(**kwargs)
    return asyncio.run(go())


def error_of(exc: openai.APIStatusError) -> dict:
    return exc.response.json()["error"]


def wav_bytes(samples, sr=16000, subtype="PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, sr, format="WAV", subtype=subtype)
    return buf.getvalue()


# ---------------------------------------------------------------------- formats

@pytest.mark.parametrize("model", ["micro", "whisper-1"])
def test_json_text_equals_engine_transcribe(app, reference, model):
    result = call(app, file=HELLO_WAV, model=model)
    assert result.text == reference["plain"].text
    assert result.text  # the micro model says something about hello.wav
    assert (result.usage.type, result.usage.seconds) == ("duration", HELLO_SECONDS)


@pytest.mark.parametrize("fmt, lumina_fmt", [("text", "txt"), ("srt", "srt"), ("vtt", "vtt")])
def test_text_srt_and_vtt_are_lumina_renderings_of_the_engine_transcript(app, reference, fmt, lumina_fmt):
    body = call(app, file=HELLO_WAV, model="micro", response_format=fmt)
    assert body == render(reference["plain"], lumina_fmt)


def test_srt_is_numbered_cues_with_comma_times(app, reference):
    body = call(app, file=HELLO_WAV, model="micro", response_format="srt")
    blocks = body.strip().split("\n\n")
    assert len(blocks) == sum(1 for s in reference["plain"].segments if s.text)
    for number, block in enumerate(blocks, start=1):
        index, times, text = block.split("\n")
        assert index == str(number)
        start, arrow, end = times.split(" ")
        assert arrow == "-->" and len(start) == len(end) == 12 and start[8] == end[8] == ","
        assert text.strip()


def test_verbose_json_segments_match_the_engine(app, reference):
    result = call(app, file=HELLO_WAV, model="micro", response_format="verbose_json")
    ref = reference["plain"]
    assert (result.text, result.language, result.duration) == (ref.text, "english", HELLO_SECONDS)
    assert [(s.id, s.start, s.end, s.text, s.tokens) for s in result.segments] == [
        (i, round(s.start, 3), round(s.end, 3), s.text, [t.id for t in s.tokens])
        for i, s in enumerate(ref.segments)]
    assert all(s.temperature == 0.0 and s.avg_logprob <= 0.0 for s in result.segments)
    assert result.words is None


def test_verbose_json_words_when_asked(app, reference):
    result = call(app, file=HELLO_WAV, model="micro", response_format="verbose_json",
                  timestamp_granularities=["word"])
    ref = reference["words"]
    assert result.segments is None
    assert "".join(w.word for w in result.words) == ref.text.replace(" ", "")
    tokens = [t for s in ref.segments for t in s.tokens if t.text.strip()]
    assert result.words[0].start == round(tokens[0].start, 3)
    assert result.words[-1].end == round(tokens[-1].end, 3)
    assert all(0 <= w.start <= w.end <= HELLO_SECONDS for w in result.words)
    both = call(app, file=HELLO_WAV, model="micro", response_format="verbose_json",
                timestamp_granularities=["word", "segment"])
    assert len(both.segments) == len(ref.segments) and both.words == result.words


def test_streamed_events_are_deltas_then_done(app, reference):
    async def go():
        stream = await asgi_client(app).audio.transcriptions.create(
            file=HELLO_WAV, model="micro", stream=True)
        return [event async for event in stream]
    events = asyncio.run(go())
    ref = reference["plain"]
    assert [e.type for e in events] == (["transcript.text.delta"] * sum(1 for s in ref.segments if s.text)
                                        + ["transcript.text.done"])
    assert "".join(e.delta for e in events[:-1]) == events[-1].text == ref.text


def test_logprobs_when_included(app, reference):
    result = call(app, file=HELLO_WAV, model="micro", include=["logprobs"])
    tokens = [t for s in reference["words"].segments for t in s.tokens]
    assert [lp.token for lp in result.logprobs] == [t.text for t in tokens]
    assert all(lp.logprob <= 0.0 for lp in result.logprobs)


# openai marks audio.translations.create deprecated; the endpoint is still OpenAI's API.
@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")
def test_translation_of_an_english_only_model_is_its_transcription(app, reference):
    async def go():
        return await asgi_client(app).audio.translations.create(file=HELLO_WAV, model="micro")
    assert asyncio.run(go()).text == reference["plain"].text


@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")
def test_translation_with_a_multilingual_model_runs_the_translate_task(app, multilingual_model):
    async def go():
        return await asgi_client(app, max_retries=0).audio.translations.create(
            file=HELLO_WAV, model="multi", response_format="verbose_json")
    result = asyncio.run(go())
    with Engine(multilingual_model, threads=1) as engine:
        want = engine.transcribe(HELLO_WAV, translate=True)
        transcribed = engine.transcribe(HELLO_WAV, language=want.language)
    assert (result.task, result.text, result.language) == ("translate", want.text, language_name(want.language))
    assert [s.tokens for s in result.segments] == [[t.id for t in s.tokens] for s in want.segments]
    probabilities = [[t.probability for t in s.tokens] for s in want.segments]
    # random weights write the same words either way, but the task token changes every probability
    assert want.text and probabilities != [[t.probability for t in s.tokens] for s in transcribed.segments]
    assert [s.avg_logprob for s in result.segments] == [
        pytest.approx(sum(math.log(p) for p in ps) / len(ps)) for ps in probabilities]


def test_temperature_is_the_decoders_starting_temperature(app, reference):
    greedy = call(app, file=HELLO_WAV, model="micro", response_format="verbose_json")
    warm = call(app, file=HELLO_WAV, model="micro", response_format="verbose_json", temperature=0.4)
    assert [s.temperature for s in warm.segments] == [0.4] * len(reference["plain"].segments)
    assert [s.tokens for s in warm.segments] == [s.tokens for s in greedy.segments]
    # sampling at 0.4 sharpens the distribution: the same tokens, each more probable
    assert all(w.avg_logprob > g.avg_logprob for w, g in zip(warm.segments, greedy.segments))


def test_verbose_json_reports_whispers_no_speech_prob(micro_model, tmp_path):
    audio = hello()
    patched = with_likely_no_speech(micro_model, tmp_path / "nosp.bin", "micro", audio)
    app = create_app(models={"nosp": patched}, threads=1, store=ModelStore(tmp_path / "store"))
    try:
        result = call(app, file=HELLO_WAV, model="nosp", response_format="verbose_json")
    finally:
        asyncio.run(app.state.lumina.aclose())
    with Engine(patched, threads=1, shared_weights=True) as engine:
        want = [s.no_speech_prob for s in engine.transcribe(HELLO_WAV).segments]
    assert [s.no_speech_prob for s in result.segments] == want
    assert all(0.4 < p < 0.6 for p in want)


# ---------------------------------------------------------------------- bad input

@pytest.mark.parametrize("name, data, code", [
    ("empty.wav", b"", "invalid_audio"),
    ("garbage.wav", b"RIFF\x00\x00\x00\x00WAVEjunk" * 10, "invalid_audio"),
    ("noise.mp3", bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)), "invalid_audio"),
    ("text.wav", b"hello, I am not audio", "invalid_audio"),
    ("short.wav", wav_bytes(np.zeros(800, np.float32)), "audio_too_short"),
    ("nan.wav", wav_bytes(np.full(16000, np.nan, np.float32), subtype="FLOAT"), "invalid_audio"),
    ("no-frames.wav", wav_bytes(np.zeros(0, np.float32)), "audio_too_short"),
])
def test_bad_audio_is_a_bad_request_error(app, name, data, code):
    with pytest.raises(openai.BadRequestError) as info:
        call(app, file=(name, data), model="micro")
    err = error_of(info.value)
    assert (err["type"], err["param"], err["code"]) == ("invalid_request_error", "file", code)


@pytest.mark.parametrize("options, param, code", [
    ({"language": "xx"}, "language", "invalid_language"),
    ({"language": "en\x00"}, "language", "invalid_language"),
    ({"temperature": -0.5}, "temperature", "invalid_value"),
    ({"temperature": 3}, "temperature", "invalid_value"),
    ({"response_format": "yaml"}, "response_format", "invalid_value"),
    ({"timestamp_granularities": ["word"]}, "timestamp_granularities", "invalid_value"),
    ({"prompt": "x" * 5000}, "prompt", "invalid_value"),
    ({"stream": True, "response_format": "srt"}, "stream", "invalid_value"),
])
def test_bad_parameters_are_bad_request_errors(app, options, param, code):
    with pytest.raises(openai.BadRequestError) as info:
        call(app, file=HELLO_WAV, model="micro", **options)
    assert (error_of(info.value)["param"], error_of(info.value)["code"]) == (param, code)


def test_language_names_and_codes_are_accepted(app, reference):
    assert call(app, file=HELLO_WAV, model="micro", language="English").text == reference["plain"].text


def test_unknown_model_is_not_found_and_no_path_reaches_the_store(app, micro_model):
    for name in ("large-v9", str(micro_model), "../micro.bin"):
        with pytest.raises(openai.NotFoundError) as info:
            call(app, file=HELLO_WAV, model=name)
        assert error_of(info.value)["code"] == "model_not_found"


def test_missing_file_field_is_a_bad_request(app):
    async def go():
        async with raw_client(app) as http:
            return await http.post("/v1/audio/transcriptions", data={"model": "micro"})
    response = asyncio.run(go())
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "file"


# ---------------------------------------------------------------------- models, health, metrics

def test_models_list_and_retrieve(app, micro_model):
    async def go():
        client = asgi_client(app)
        return await client.models.list(), await client.models.retrieve("whisper-1")
    listed, default = asyncio.run(go())
    assert [m.id for m in listed.data] == ["micro", "multi"]
    assert all(m.object == "model" and m.owned_by == "lumina" for m in listed.data)
    assert default.id == "micro" and default.created == int(micro_model.stat().st_mtime)


def test_installed_registry_models_are_served_on_first_use(micro_model, tmp_path, reference):
    from lumina.models import RegistryEntry

    entry = RegistryEntry("micro-test", "ggml-micro-test.bin", "http://unused/", 1, False, None,
                          "micro", True, "f16")
    store = ModelStore(tmp_path, registry={"micro-test": entry})
    store.root.mkdir(parents=True, exist_ok=True)
    (store.root / entry.filename).write_bytes(micro_model.read_bytes())
    app = create_app(models={"default": micro_model}, store=store, threads=1)

    async def go():
        client = asgi_client(app)
        try:
            listed = [m.id for m in (await client.models.list()).data]
            text = (await client.audio.transcriptions.create(file=HELLO_WAV, model="micro-test")).text
            return listed, text, [name for name, _ in app.state.lumina.pools.items()]
        finally:
            await app.state.lumina.aclose()
    listed, text, loaded = asyncio.run(go())
    assert listed == ["default", "micro-test"]
    assert text == reference["plain"].text
    assert loaded == ["micro-test"]  # only what was asked for was loaded


def test_health_and_metrics(micro_model, tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    app = create_app(models={"micro": micro_model}, threads=1, store=ModelStore(tmp_path))

    async def go():
        client = asgi_client(app, max_retries=0)
        try:
            await client.audio.transcriptions.create(file=HELLO_WAV, model="micro")
            await client.audio.transcriptions.create(file=HELLO_WAV, model="micro", response_format="text")
            with pytest.raises(openai.BadRequestError):
                await client.audio.transcriptions.create(file=("x.wav", b"nope"), model="micro")
            async with raw_client(app) as http:
                return (await http.get("/health")).json(), (await http.get("/metrics")).text
        finally:
            await app.state.lumina.aclose()
    health, text = asyncio.run(go())
    assert health == {"status": "ok", "ready": True, "realtime_sessions": 0,
                      "models": {"micro": {"ready": True, "workers": 1, "busy": 0, "waiting": 0}}}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}
    route = ("route", "/v1/audio/transcriptions")
    assert samples[("lumina_requests_total", (route, ("status", "200")))] == 2
    assert samples[("lumina_requests_total", (route, ("status", "400")))] == 1
    assert samples[("lumina_errors_total", (("code", "invalid_audio"), route))] == 1
    assert samples[("lumina_request_seconds_count", (route,))] == 3
    assert samples[("lumina_inference_seconds_count", (("model", "micro"),))] == 2
    assert samples[("lumina_audio_seconds_total", (("model", "micro"),))] == pytest.approx(2 * len(hello()) / 16000)
    assert samples[("lumina_queue_depth", (("model", "micro"),))] == 0
    assert samples[("lumina_workers", (("model", "micro"),))] == 1
    assert samples[("lumina_jobs_rejected_total", (("model", "micro"),))] == 0
    assert samples[("lumina_device_info", (("device", "cpu"), ("model", "micro")))] == 1


def test_cache_hits_are_counted(micro_model, tmp_path):
    app = create_app(models={"micro": micro_model}, threads=1, store=ModelStore(tmp_path), cache=True)

    async def go():
        client = asgi_client(app)
        try:
            texts = [(await client.audio.transcriptions.create(file=HELLO_WAV, model="micro")).text
                     for _ in range(2)]
            return texts, app.state.lumina.metrics.cache_hits.labels("micro")._value.get()
        finally:
            await app.state.lumina.aclose()
    texts, hits = asyncio.run(go())
    assert texts[0] == texts[1]
    assert hits == 1


# ---------------------------------------------------------------------- the key and the limits

@pytest.fixture(scope="module")
def keyed_app(micro_model, tmp_path_factory):
    app = create_app(models={"micro": micro_model}, threads=1, api_key="s3cret",
                     store=ModelStore(tmp_path_factory.mktemp("store")))
    yield app
    asyncio.run(app.state.lumina.aclose())


def test_the_right_key_gets_in(keyed_app, reference):
    async def go():
        return await asgi_client(keyed_app, api_key="s3cret").audio.transcriptions.create(
            file=HELLO_WAV, model="micro")
    assert asyncio.run(go()).text == reference["plain"].text


@pytest.mark.parametrize("headers", [{"Authorization": "Bearer wrong"}, {"Authorization": openai.Omit()},
                                     {"Authorization": "Basic czNjcmV0"}])
def test_a_missing_or_wrong_key_is_an_authentication_error(keyed_app, headers):
    async def go():
        client = asgi_client(keyed_app, api_key="s3cret", max_retries=0)
        return await client.audio.transcriptions.create(file=HELLO_WAV, model="micro",
                                                        extra_headers=headers)
    with pytest.raises(openai.AuthenticationError) as info:
        asyncio.run(go())
    assert error_of(info.value)["code"] == "invalid_api_key"


@pytest.mark.parametrize("path, status", [("/health", 200), ("/metrics", 401), ("/v1/models", 401),
                                          ("/openapi.json", 401), ("/nowhere", 401)])
def test_only_health_is_open_without_the_key(keyed_app, path, status):
    async def go():
        async with raw_client(keyed_app) as http:
            return await http.get(path)
    assert asyncio.run(go()).status_code == status


def test_the_key_comes_from_the_environment(micro_model, tmp_path, monkeypatch):
    monkeypatch.setenv("LUMINA_API_KEY", "from-env")
    app = create_app(models={"micro": micro_model}, threads=1, store=ModelStore(tmp_path))

    async def go():
        async with raw_client(app) as http:
            return ((await http.get("/v1/models")).status_code,
                    (await http.get("/v1/models", headers={"Authorization": "Bearer from-env"})).status_code)
    assert asyncio.run(go()) == (401, 200)


def test_an_upload_over_the_limit_is_refused(micro_model, tmp_path):
    app = create_app(models={"micro": micro_model}, threads=1, store=ModelStore(tmp_path),
                     max_upload_bytes=50_000)
    import httpx

    form = httpx.Request("POST", "http://x/", files={"file": ("hello.wav", HELLO_WAV.read_bytes())},
                         data={"model": "micro"})
    data = form.read()

    async def chunked():  # no Content-Length: the limit must hold while the body streams in
        for i in range(0, len(data), 8192):
            yield data[i:i + 8192]

    async def go():
        client = asgi_client(app, max_retries=0)
        with pytest.raises(openai.APIStatusError) as info:
            await client.audio.transcriptions.create(file=HELLO_WAV, model="micro")
        async with raw_client(app) as http:
            streamed = await http.post("/v1/audio/transcriptions", content=chunked(),
                                       headers={"content-type": form.headers["content-type"]})
        return info.value, streamed
    declared, streamed = asyncio.run(go())
    assert declared.status_code == streamed.status_code == 413
    assert error_of(declared)["code"] == streamed.json()["error"]["code"] == "request_too_large"
    assert app.state.lumina.pools.items() == []  # nothing was decoded or queued


def test_create_app_fails_at_once_for_a_missing_model(tmp_path):
    from lumina.errors import ModelNotFoundError

    with pytest.raises(ModelNotFoundError):
        create_app(models={"x": tmp_path / "nope.bin"}, store=ModelStore(tmp_path))


def test_config_rejects_nonsense():
    with pytest.raises(ValueError):
        ServerConfig(workers=0)
    with pytest.raises(ValueError):
        ServerConfig(models={})
    with pytest.raises(ValueError):
        ServerConfig(models={"whisper-1": "tiny.en"})
    with pytest.raises(ValueError):
        ServerConfig(request_timeout_s=0)


def test_error_bodies_are_openai_json(app):
    async def go():
        async with raw_client(app) as http:
            return await http.post("/v1/audio/transcriptions", files={"file": ("a.wav", b"x")},
                                   data={"model": "micro", "temperature": "hot"})
    response = asyncio.run(go())
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert set(json.loads(response.text)["error"]) == {"message", "type", "param", "code"}


def test_a_missing_server_extra_is_a_clear_error(monkeypatch, capsys):
    import lumina.apps.server as server
    from lumina.apps.cli import main
    from lumina.errors import MissingDependencyError

    monkeypatch.setattr(server, "_EXTRA", (*server._EXTRA, "lumina_no_such_module"))
    with pytest.raises(MissingDependencyError, match=r"pip install 'lumina\[server\]'"):
        create_app(models={"x": "tiny.en"})
    assert main(["serve", "--model", "tiny.en"]) == 1
    assert capsys.readouterr().err == (
        "lumina: error: lumina serve needs the optional packages lumina_no_such_module, which are "
        "not installed; install them with `pip install 'lumina[server]'`\n")
