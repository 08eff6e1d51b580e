"""`/v1/realtime?intent=transcription`: a websockets client streams espeak-ng speech at real-time pace.

Tests marked ``speech`` make their audio with espeak-ng and sox."""

import asyncio
import base64
import json
import time

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from lumina import Engine, Segmenter, StreamOptions
from lumina.streaming import SpeechEnd, SpeechStart
from lumina.apps.server import create_app
from lumina.audio.convert import ChunkConverter
from lumina.models import ModelStore
from lumina.testing import make_model
from _engine_util import hello
from _server_util import GrowingEngine, UvicornThread
from _stream_util import MICRO_SEED, two_utterances
from lumina.evaluation.paused import PausedSentence, SentenceOracle

PREFIX = "conversation.item.input_audio_transcription"
SR_ = 16000


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """Two spoken phrases between silences, as 16-bit PCM at 16 kHz."""
    audio = two_utterances(tmp_path_factory.mktemp("speech"))
    return np.round(np.clip(audio, -1, 1) * 32767).astype("<i2")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return make_model(tmp_path_factory.mktemp("m") / "micro.bin", "micro", seed=MICRO_SEED)


def make_server(model, tmp_path, **settings):
    settings.setdefault("threads", 1)
    settings.setdefault("realtime_vad", "energy")  # the tests speak in tones, which Silero rejects
    app = create_app(models={"micro": model}, store=ModelStore(tmp_path), **settings)
    return app, UvicornThread(app)


async def recv(ws):
    """The next message, failing the test instead of hanging when none comes."""
    return await asyncio.wait_for(ws.recv(), 30)


def ws_url(server) -> str:
    return server.url.replace("http://", "ws://") + "/v1/realtime?intent=transcription"


def append(pcm: np.ndarray) -> str:
    return json.dumps({"type": "input_audio_buffer.append",
                       "audio": base64.b64encode(pcm.astype("<i2").tobytes()).decode()})


def update(**audio_input) -> str:
    return json.dumps({"type": "session.update",
                       "session": {"type": "transcription", "audio": {"input": audio_input}}})


async def stream_and_collect(url, pcm, rate, *, completed, setup=(), headers=None, chunk_s=0.02):
    """Send ``setup`` messages, then ``pcm`` in real time; collect events until ``completed``
    ``...completed`` events arrived, then commit: ``pcm`` ends in silence, so the commit's answer
    is the "nothing to commit" error, sent once the session's stream has ended, after every
    event of its items (returned without that error)."""
    events = []
    async with connect(url, additional_headers=headers) as ws:
        events.append(json.loads(await recv(ws)))
        for message in setup:
            await ws.send(message)
            events.append(json.loads(await recv(ws)))

        async def read():
            async for message in ws:
                events.append(json.loads(message))

        reader = asyncio.ensure_future(read())
        step = int(rate * chunk_s)
        started = time.monotonic()
        for i in range(0, len(pcm), step):
            await ws.send(append(pcm[i:i + step]))
            await asyncio.sleep(max(0.0, started + (i + step) / rate - time.monotonic()))
        deadline = time.monotonic() + 60
        while sum(e["type"] == f"{PREFIX}.completed" for e in events) < completed:
            assert time.monotonic() < deadline, [e["type"] for e in events]
            await asyncio.sleep(0.02)
        await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        while not events or events[-1]["type"] != "error":
            assert time.monotonic() < deadline, [e["type"] for e in events]
            await asyncio.sleep(0.02)
        reader.cancel()
    assert events[-1]["error"]["code"] == "input_audio_buffer_commit_empty"
    return events[:-1]


def reference_ends(samples16: np.ndarray):
    """The SpeechStart / SpeechEnd events of the server's segmenter settings on the same samples."""
    seg = Segmenter(16000, vad="energy", hangover_ms=300, pre_roll_ms=200)  # make_server pins energy
    return [e for e in seg.feed(samples16)], seg.pre_roll_samples


def by_type(events, kind):
    return [e for e in events if e["type"] == kind]


def check_turns(events, segments, pre_roll, finals):
    """Speech started and stopped at the segmenter's times, then one completed transcript per utterance."""
    starts = [e for e in segments if isinstance(e, SpeechStart)]
    ends = [e for e in segments if isinstance(e, SpeechEnd)]
    started = by_type(events, "input_audio_buffer.speech_started")
    stopped = by_type(events, "input_audio_buffer.speech_stopped")
    completed = by_type(events, f"{PREFIX}.completed")
    assert [e["audio_start_ms"] for e in started] == [
        max(0, s.start_sample - pre_roll) * 1000 // 16000 for s in starts]
    assert [e["audio_end_ms"] for e in stopped] == [e.end_sample * 1000 // 16000 for e in ends]
    items = [e["item_id"] for e in started]
    assert len(set(items)) == len(items) == 2
    assert [e["item_id"] for e in stopped] == [e["item_id"] for e in completed] == items
    assert [e["transcript"] for e in completed] == finals
    committed = by_type(events, "input_audio_buffer.committed")
    assert [(e["item_id"], e["previous_item_id"]) for e in committed] == [(items[0], None),
                                                                          (items[1], items[0])]
    for item in items:  # an item's deltas come after it started and before it completed
        kinds = [e["type"] for e in events if e.get("item_id") == item]
        assert kinds[0] == "input_audio_buffer.speech_started"
        assert kinds[-1] == f"{PREFIX}.completed"
        assert kinds.count(f"{PREFIX}.completed") == 1
    return items


@pytest.mark.speech
def test_realtime_16k_speech_turns_and_finals(model, speech, tmp_path):
    app, server = make_server(model, tmp_path, realtime_lockstep=True)
    with server:
        events = asyncio.run(stream_and_collect(
            ws_url(server), speech, 16000, completed=2,
            setup=[update(format={"type": "audio/pcm", "rate": 16000})]))
    assert [e["type"] for e in events[:2]] == ["session.created", "session.updated"]
    assert events[1]["session"]["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 16000}
    samples = speech.astype(np.float32) / 32768
    segments, pre_roll = reference_ends(samples)
    with Engine(model, threads=1) as engine:
        # the session's stream decodes each final at the default final speed
        finals = [engine.transcribe(e.audio, speed=StreamOptions().final_speed).text
                  for e in segments if isinstance(e, SpeechEnd)]
    items = check_turns(events, segments, pre_roll, finals)
    deltas = by_type(events, f"{PREFIX}.delta")
    assert {d["item_id"] for d in deltas} <= set(items)
    assert not by_type(events, "error")


@pytest.mark.speech
def test_realtime_24k_live_mode(model, speech, tmp_path):
    import soxr

    pcm24 = np.round(np.clip(soxr.resample(speech.astype(np.float32) / 32768, 16000, 24000), -1, 1)
                     * 32767).astype("<i2")
    app, server = make_server(model, tmp_path)  # live: partial steps skipped while a decode runs
    with server:
        events = asyncio.run(stream_and_collect(ws_url(server), pcm24, 24000, completed=2))
        assert app.state.lumina.pools.items()[0][1].stats.busy == 0
    convert = ChunkConverter(24000)
    samples = np.concatenate([convert(pcm24[i:i + 480]) for i in range(0, len(pcm24), 480)])
    segments, pre_roll = reference_ends(samples)
    with Engine(model, threads=1) as engine:
        # the session's stream decodes each final at the default final speed
        finals = [engine.transcribe(e.audio, speed=StreamOptions().final_speed).text
                  for e in segments if isinstance(e, SpeechEnd)]
    check_turns(events, segments, pre_roll, finals)


@pytest.mark.speech
def test_deltas_join_to_each_final(speech, model, tmp_path):
    """With hypotheses that only grow, every utterance's deltas join to exactly its transcript."""
    app, server = make_server(model, tmp_path, engine_factory=GrowingEngine)
    with server:
        events = asyncio.run(stream_and_collect(
            ws_url(server), speech, 16000, completed=2,
            setup=[update(format={"type": "audio/pcm", "rate": 16000})]))
    samples = speech.astype(np.float32) / 32768
    segments, pre_roll = reference_ends(samples)
    finals = [GrowingEngine.text_for(len(e.audio)) for e in segments if isinstance(e, SpeechEnd)]
    items = check_turns(events, segments, pre_roll, finals)
    for item, final in zip(items, finals):
        deltas = [e["delta"] for e in events if e["type"] == f"{PREFIX}.delta" and e["item_id"] == item]
        assert len(deltas) >= 2  # partials arrived while the phrase was spoken
        assert "".join(deltas) == final


# ---------------------------------------------------------------- one segmenter decides every turn

def paused_noise_sentence(pause: float) -> PausedSentence:
    """Two noise bursts (the halves of a sentence) with ``pause`` s between them, in silence.

    Noise, not speech: the oracle engine finds each window's place in the audio by its samples, and
    they are exact PCM16 values, so the server's 16 kHz PCM16 path hands over exactly these floats.
    """
    rng = np.random.default_rng(round(pause * 1000))
    a, b = (np.round(rng.uniform(-0.3, 0.3, round(s * SR_)) * 32767) / 32768 for s in (1.0, 1.2))
    lead = round(0.5 * SR_)
    first = (lead, lead + len(a))
    second = (first[1] + round(pause * SR_), first[1] + round(pause * SR_) + len(b))
    audio = np.concatenate([np.zeros(lead), a, np.zeros(round(pause * SR_)), b,
                            np.zeros(SR_)]).astype(np.float32)
    return PausedSentence(("I would like to order", "a large pizza please"), pause, audio, first, second)


class OracleFactory:
    """``engine_factory`` whose engine is a SentenceOracle: the text of a half ends with ``mark``."""

    def __init__(self, sentence: PausedSentence, mark: str) -> None:
        self.oracle = SentenceOracle(sentence, mark)

    def __call__(self, path, *, threads, cache, device, concurrency):
        return self.oracle


async def one_session(url, pcm, silence_ms):
    """Send the audio at once, commit, and collect every event until the commit's answer, which
    (nothing being open after the trailing silence) is the error that ends the session's stream."""
    events = []
    async with connect(url) as ws:
        await recv(ws)
        await ws.send(update(format={"type": "audio/pcm", "rate": 16000},
                             turn_detection={"type": "server_vad", "silence_duration_ms": silence_ms}))
        await recv(ws)
        for i in range(0, len(pcm), 320):
            await ws.send(append(pcm[i:i + 320]))
        await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        while not events or events[-1]["type"] != "error":
            events.append(json.loads(await recv(ws)))
    assert events[-1]["error"]["code"] == "input_audio_buffer_commit_empty"
    return events[:-1]


# Pauses between the 300 ms the stream's adaptive hang-over gives after a period and the 700 ms
# it gives after a comma: a second segmenter with the client's fixed 500 ms used to disagree
# with the stream on each of them, and item ids came apart.
@pytest.mark.parametrize("pause", [0.4, 0.6])
@pytest.mark.parametrize("mark", [",", "."])
def test_every_event_of_an_item_follows_the_one_segmenter(model, tmp_path, mark, pause):
    sentence = paused_noise_sentence(pause)
    pcm = np.round(sentence.audio * 32768).astype("<i2")
    app, server = make_server(model, tmp_path, realtime_lockstep=True,
                              engine_factory=OracleFactory(sentence, mark))
    with server:
        events = asyncio.run(one_session(ws_url(server), pcm, silence_ms=500))
    assert not by_type(events, "error")
    # The client's 500 ms decides, whatever the text says: one turn across 400 ms, two across 600.
    turns = 1 if pause < 0.5 else 2
    started = [e["item_id"] for e in by_type(events, "input_audio_buffer.speech_started")]
    stopped = [e["item_id"] for e in by_type(events, "input_audio_buffer.speech_stopped")]
    committed = by_type(events, "input_audio_buffer.committed")
    completed = by_type(events, f"{PREFIX}.completed")
    assert len(set(started)) == len(started) == turns
    assert stopped == [e["item_id"] for e in committed] == [e["item_id"] for e in completed] == started
    assert [e["previous_item_id"] for e in committed] == [None, *started[:-1]]
    for item in started:       # each item: started, then its deltas, then stopped and committed
        kinds = [e["type"] for e in events if e.get("item_id") == item]
        assert kinds[0] == "input_audio_buffer.speech_started"
        assert kinds[-1] == f"{PREFIX}.completed" and kinds.count(f"{PREFIX}.completed") == 1
        assert kinds.index("input_audio_buffer.speech_stopped") < kinds.index(
            "input_audio_buffer.committed") < kinds.index(f"{PREFIX}.completed")
    halves = ["I would like to order" + mark, "a large pizza please."]
    whole = "I would like to order a large pizza please."
    assert [e["transcript"] for e in completed] == ([whole] if turns == 1 else halves)
    ends = [e["audio_end_ms"] for e in by_type(events, "input_audio_buffer.speech_stopped")]
    assert ends == ([sentence.second[1] // 16] if turns == 1
                    else [sentence.first[1] // 16, sentence.second[1] // 16])


def test_manual_turns_without_turn_detection(model, tmp_path):
    pcm = np.round(hello() * 32767).astype("<i2")

    async def go(url):
        async with connect(url) as ws:
            await recv(ws)
            await ws.send(update(format={"type": "audio/pcm", "rate": 16000}, turn_detection=None))
            session = json.loads(await recv(ws))["session"]
            await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))   # nothing yet
            for i in range(0, len(pcm), 16000):
                await ws.send(append(pcm[i:i + 16000]))
            await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
            events = [json.loads(await recv(ws)) for _ in range(4)]
            return session, events
    app, server = make_server(model, tmp_path)
    with server:
        session, events = asyncio.run(go(ws_url(server)))
    assert session["audio"]["input"]["turn_detection"] is None
    assert [e["type"] for e in events] == ["error", "input_audio_buffer.committed", f"{PREFIX}.delta",
                                           f"{PREFIX}.completed"]
    assert events[0]["error"]["code"] == "input_audio_buffer_commit_empty"
    with Engine(model, threads=1) as engine:
        text = engine.transcribe(pcm.astype(np.float32) / 32768).text
    assert events[2]["delta"] == events[3]["transcript"] == text
    assert events[1]["item_id"] == events[2]["item_id"] == events[3]["item_id"]
    assert events[3]["usage"] == {"type": "duration", "seconds": round(len(pcm) / 16000, 3)}


@pytest.mark.parametrize("message, code", [
    ("{not json", "invalid_json"),
    ('["a"]', "invalid_event"),
    ('{"type": "response.create"}', "unknown_event"),
    ('{"type": "input_audio_buffer.append", "audio": "@@@"}', "invalid_value"),
    ('{"type": "input_audio_buffer.append", "audio": "AA=="}', "invalid_value"),  # one byte
    ('{"type": "session.update", "session": {"type": "transcription", "audio": {"input": '
     '{"format": {"type": "audio/pcm", "rate": 8000}}}}}', "unsupported_audio_format"),
    ('{"type": "session.update", "session": {"type": "transcription", "audio": {"input": '
     '{"transcription": {"model": "/etc/passwd"}}}}}', "model_not_found"),
    ('{"type": "session.update", "session": {"type": "transcription", "audio": {"input": '
     '{"transcription": {"language": "klingon"}}}}}', "invalid_language"),
    ('{"type": "session.update", "session": {"type": "realtime"}}', "invalid_value"),
])
def test_bad_client_events_get_error_events_and_the_session_goes_on(model, tmp_path, message, code):
    async def go(url):
        async with connect(url) as ws:
            await recv(ws)
            await ws.send(message)
            error = json.loads(await recv(ws))
            await ws.send(update(transcription={"model": "whisper-1", "language": "en"}))
            return error, json.loads(await recv(ws))
    app, server = make_server(model, tmp_path)
    with server:
        error, updated = asyncio.run(go(ws_url(server)))
    assert error["type"] == "error" and error["error"]["code"] == code
    assert updated["type"] == "session.updated"
    assert updated["session"]["audio"]["input"]["transcription"]["language"] == "en"


def test_beta_transcription_session_update(model, tmp_path):
    async def go(url):
        async with connect(url) as ws:
            await recv(ws)
            await ws.send(json.dumps({"type": "transcription_session.update", "session": {
                "input_audio_format": "pcm16", "input_audio_transcription": {"model": "micro"},
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 500}}}))
            return json.loads(await recv(ws))
    app, server = make_server(model, tmp_path)
    with server:
        updated = asyncio.run(go(ws_url(server)))
    assert updated["type"] == "transcription_session.updated"
    assert updated["session"]["turn_detection"] == {"type": "server_vad", "prefix_padding_ms": 200,
                                                    "silence_duration_ms": 500}


@pytest.mark.speech
def test_clear_drops_the_open_utterance(model, speech, tmp_path):
    async def go(url):
        async with connect(url) as ws:
            await recv(ws)
            await ws.send(update(format={"type": "audio/pcm", "rate": 16000}))
            await recv(ws)
            await ws.send(append(speech[:16000]))            # 0.5 s silence, then speech begins
            events = [json.loads(await recv(ws))]            # the stream found the speech
            await ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
            while events[-1]["type"] != "input_audio_buffer.cleared":
                events.append(json.loads(await recv(ws)))
            await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
            events.append(json.loads(await recv(ws)))
            return events
    app, server = make_server(model, tmp_path)
    with server:
        events = asyncio.run(go(ws_url(server)))
    assert [e["type"] for e in events if e["type"] != f"{PREFIX}.delta"] == [
        "input_audio_buffer.speech_started", "input_audio_buffer.cleared", "error"]
    assert events[-1]["error"]["code"] == "input_audio_buffer_commit_empty"


def test_the_session_needs_the_intent_and_the_key(model, tmp_path):
    async def go(server):
        base = server.url.replace("http://", "ws://") + "/v1/realtime"
        async with connect(base, additional_headers={"Authorization": "Bearer k"}) as ws:
            refused = json.loads(await recv(ws))
            with pytest.raises(ConnectionClosed) as closed:
                await recv(ws)
        with pytest.raises(InvalidStatus) as no_key:
            async with connect(base + "?intent=transcription"):
                pass
        async with connect(base + "?intent=transcription",
                           additional_headers={"Authorization": "Bearer k"}) as ws:
            by_header = json.loads(await recv(ws))["type"]
        async with connect(base + "?intent=transcription",
                           subprotocols=["realtime", "openai-insecure-api-key.k"]) as ws:
            by_subprotocol = (json.loads(await recv(ws))["type"], ws.subprotocol)
        return refused, closed.value.rcvd.code, no_key.value.response.status_code, by_header, by_subprotocol
    app, server = make_server(model, tmp_path, api_key="k")
    with server:
        refused, close_code, status, by_header, by_subprotocol = asyncio.run(go(server))
    assert refused["error"]["code"] == "unsupported_intent" and close_code == 1008
    assert status == 403
    assert by_header == "session.created"
    assert by_subprotocol == ("session.created", "realtime")


def test_the_session_limit(model, tmp_path):
    async def go(url):
        async with connect(url) as first:
            await recv(first)
            async with connect(url) as second:
                refused = json.loads(await recv(second))
                with pytest.raises(ConnectionClosed) as closed:
                    await recv(second)
            return refused, closed.value.rcvd.code
    app, server = make_server(model, tmp_path, max_realtime_sessions=1)
    with server:
        refused, code = asyncio.run(go(ws_url(server)))
    assert refused["error"]["code"] == "session_limit_reached" and code == 1013


@pytest.mark.speech
def test_a_client_that_leaves_mid_utterance_leaves_nothing_running(model, speech, tmp_path):
    import threading

    async def go(url):
        async with connect(url) as ws:
            await recv(ws)
            await ws.send(update(format={"type": "audio/pcm", "rate": 16000}))
            await recv(ws)
            for i in range(0, 24000, 320):       # into the first phrase, then gone
                await ws.send(append(speech[i:i + 320]))
                await asyncio.sleep(0.02)
    app, server = make_server(model, tmp_path)
    with server:
        asyncio.run(go(ws_url(server)))
        state = app.state.lumina
        deadline = time.monotonic() + 30
        while (state.realtime_sessions or any(t.name.startswith("lumina-stream") for t in threading.enumerate())) \
                and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not state.realtime_sessions
        assert not [t.name for t in threading.enumerate() if t.name in ("lumina-stream", "lumina-decode")]
        assert all(pool.stats.busy == 0 for _, pool in state.pools.items())
