"""``/v1/realtime?intent=transcription``: OpenAI's realtime transcription over a WebSocket.

With turn detection (the default, ``server_vad``) the audio goes into a
:class:`lumina.Stream` whose engine is the server's pool, so sessions share
the workers and the model. The stream's one segmenter decides every turn, and
the session maps the stream's events onto OpenAI's, one item per utterance:
:class:`~lumina.SpeechStarted` becomes ``input_audio_buffer.speech_started``;
every partial's newly *stable* text a
``conversation.item.input_audio_transcription.delta`` (stable text never
changes, so deltas only append); :class:`~lumina.SpeechStopped`
``input_audio_buffer.speech_stopped`` and ``input_audio_buffer.committed``;
the utterance's :class:`~lumina.Final` one ``...completed`` with the
authoritative transcript. Every event of an item comes from the same
utterance of the same segmenter, so they always name the same item.

The turn detection settings are the segmenter's: ``silence_duration_ms`` is
its hang-over, fixed for every utterance (the stream does not adapt it to the
text, since the client asked for that duration), ``prefix_padding_ms`` its
pre-roll. ``input_audio_buffer.commit`` ends the open utterance (the stream's
input is closed; the next audio starts another stream, whose events wait until
the previous one has committed its last item, so items commit in order).

Without turn detection (``turn_detection: null``) audio accumulates until the
client commits it; the turn is transcribed as one job.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging

import numpy as np
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from lumina.asr.protocol import TranscribeOptions
from lumina.asr.transcript import MIN_SAMPLES
from lumina.audio.convert import SAMPLE_RATE, ChunkConverter
from lumina.errors import LuminaError
from lumina.streaming import (Final, Partial, Segmenter, SpeechStarted, SpeechStopped, Stream,
                              StreamOptions)
from lumina.apps.server.errors import ApiError
from lumina.apps.server.languages import language_code
from lumina.apps.server.pool import PoolJob
from lumina.apps.server.realtime_engine import PoolEngine
from lumina.apps.server.realtime_protocol import (ProtocolError, SessionSettings, apply_update,
                                                  decode_pcm16, event, new_id, session_object)

__all__ = ["router"]

log = logging.getLogger("lumina.server")
router = APIRouter()

_TRY_AGAIN_LATER = 1013
_POLICY_VIOLATION = 1008
_PREFIX = "conversation.item.input_audio_transcription"


@router.websocket("/v1/realtime")
async def realtime(websocket: WebSocket) -> None:
    """A realtime transcription session (needs ``?intent=transcription``)."""
    state = websocket.app.state.lumina
    subprotocol = "realtime" if "realtime" in websocket.scope.get("subprotocols", ()) else None
    await websocket.accept(subprotocol=subprotocol)
    refusal = _refusal(state, websocket)
    if refusal is not None:
        code, close_code, message = refusal
        await websocket.send_json(event("error", error={"type": "invalid_request_error", "code": code,
                                                        "message": message, "param": None}))
        await websocket.close(close_code)
        return
    session = Session(websocket, state)
    state.realtime_sessions.add(session)
    state.metrics.realtime_sessions.set(len(state.realtime_sessions))
    try:
        await session.run()
    finally:
        state.realtime_sessions.discard(session)
        state.metrics.realtime_sessions.set(len(state.realtime_sessions))


def _refusal(state, websocket: WebSocket):
    if websocket.query_params.get("intent") != "transcription":
        return ("unsupported_intent", _POLICY_VIOLATION,
                "this server runs transcription sessions only; connect to /v1/realtime?intent=transcription")
    if len(state.realtime_sessions) >= state.config.max_realtime_sessions:
        return ("session_limit_reached", _TRY_AGAIN_LATER,
                f"this server already runs {state.config.max_realtime_sessions} realtime sessions; "
                "try again later")
    return None


@dataclasses.dataclass(eq=False)
class _Generation:
    """One Stream; a commit or a clear ends it and the next audio starts another."""

    stream: Stream
    offset: int                      # session samples before this generation's first one
    previous: _Generation | None     # the one before: its items commit first
    items: dict = dataclasses.field(default_factory=dict)   # utterance id -> item id
    sent: dict = dataclasses.field(default_factory=dict)    # utterance id -> delta text sent
    forwarder: asyncio.Task | None = None
    # Set once no item of this generation can commit any more: its input was closed and its
    # last utterance stopped, or its stream ended.
    committed_all: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    explicit_commit: bool = False    # the client's commit closed the input
    input_ended_turn: bool = False   # closing the input ended an utterance (there was one to commit)


class Session:
    """One client's realtime session."""

    def __init__(self, websocket: WebSocket, state) -> None:
        self.ws = websocket
        self.state = state
        self.id = new_id("sess")
        self.settings = SessionSettings(model=state.catalog.default)
        self._beta = False
        self._outbox: asyncio.Queue = asyncio.Queue()
        self._converter = ChunkConverter(self.settings.rate, what="input_audio_buffer.append audio")
        self._samples = 0                    # 16 kHz samples received in this session
        self._gen: _Generation | None = None
        self._latest: _Generation | None = None   # the newest generation, current or draining
        self._buffer: list[np.ndarray] = []  # manual mode: audio since the last commit
        self._last_item: str | None = None
        self._turns: list[asyncio.Task] = []
        self._draining: set[_Generation] = set()
        self._closed = False

    # ------------------------------------------------------------------ life

    async def run(self) -> None:
        sender = asyncio.ensure_future(self._send_loop())
        self._send("session.created", session=self._session())
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                await self._handle(message)
        except WebSocketDisconnect:
            pass
        finally:
            await self.close()
            sender.cancel()

    async def close(self) -> None:
        """Stop the stream and the turns in progress (idempotent)."""
        if self._closed:
            return
        self._closed = True
        await self._stop_all()
        for task in self._turns:
            task.cancel()

    def _send(self, type_: str, **fields) -> None:
        self._outbox.put_nowait(event(type_, **fields))

    def _error(self, message: str, code: str, param: str | None = None, event_id=None) -> None:
        self._send("error", error={"type": "invalid_request_error", "code": code, "message": message,
                                   "param": param, "event_id": event_id})

    async def _send_loop(self) -> None:
        try:
            while True:
                await self.ws.send_text(json.dumps(await self._outbox.get(), ensure_ascii=False))
        except (WebSocketDisconnect, RuntimeError):
            pass  # the client is gone; the receive loop notices and closes the session

    # ------------------------------------------------------------------ client events

    async def _handle(self, message: dict) -> None:
        text = message.get("text")
        if text is None:
            self._error("send JSON text messages; binary frames are not part of this protocol",
                        "invalid_message")
            return
        try:
            data = json.loads(text)
        except ValueError:
            self._error("the message is not valid JSON", "invalid_json")
            return
        if not isinstance(data, dict):
            self._error("a client event is a JSON object with a 'type'", "invalid_event")
            return
        try:
            await self._dispatch(data)
        except ProtocolError as exc:
            self._error(str(exc), exc.code, exc.param, data.get("event_id"))
        except LuminaError as exc:  # e.g. audio the stream refused; the session goes on
            self._error(str(exc), "invalid_value", None, data.get("event_id"))

    async def _dispatch(self, data: dict) -> None:
        kind = data.get("type")
        if kind in ("session.update", "transcription_session.update"):
            await self._update(data)
        elif kind == "input_audio_buffer.append":
            self._append(decode_pcm16(data.get("audio")))
        elif kind == "input_audio_buffer.commit":
            await self._commit(explicit=True)
        elif kind == "input_audio_buffer.clear":
            await self._end_generation(finish=False)
            self._buffer.clear()
            self._send("input_audio_buffer.cleared")
        else:
            raise ProtocolError(f"unknown or unsupported event type {str(kind)[:60]!r}",
                                code="unknown_event", param="type")

    async def _update(self, data: dict) -> None:
        self._beta = data["type"] == "transcription_session.update"
        new = apply_update(self.settings, data, self._resolve_model, self._language)
        old, self.settings = self.settings, new
        if (new.vad, new.silence_ms, new.prefix_ms) != (old.vad, old.silence_ms, old.prefix_ms):
            await self._commit(explicit=False)  # audio so far is one turn under the old rules
        if new.rate != old.rate:
            self._feed(self._converter.flush())
            self._converter = ChunkConverter(new.rate, what="input_audio_buffer.append audio")
        kind = "transcription_session.updated" if self._beta else "session.updated"
        self._send(kind, session=self._session())

    def _session(self) -> dict:
        return session_object(self.settings, self.id, self._beta)

    def _resolve_model(self, name) -> str:
        if not isinstance(name, str):
            raise ProtocolError("model must be a string", param="session.audio.input.transcription.model")
        try:
            return self.state.catalog.resolve(name).name
        except LuminaError as exc:
            raise ProtocolError(str(exc), code="model_not_found",
                                param="session.audio.input.transcription.model") from None

    @staticmethod
    def _language(value) -> str | None:
        if value is None or value == "":
            return None
        code = language_code(value) if isinstance(value, str) and "\x00" not in value else None
        if code is None:
            raise ProtocolError(f"unknown language {str(value)[:40]!r}; use an ISO 639-1 code",
                                code="invalid_language",
                                param="session.audio.input.transcription.language")
        return code

    # ------------------------------------------------------------------ audio

    def _append(self, pcm: np.ndarray) -> None:
        try:
            samples = self._converter(pcm)
        except LuminaError as exc:
            raise ProtocolError(str(exc), param="audio") from None
        self._feed(samples)

    def _feed(self, samples: np.ndarray) -> None:
        if not len(samples):
            return
        if not self.settings.vad:
            self._buffer.append(samples)
            self._samples += len(samples)
            return
        gen = self._gen or self._start_generation()
        gen.stream.feed(samples)
        self._samples += len(samples)

    def _start_generation(self) -> _Generation:
        s = self.settings
        engine = PoolEngine(self._run_job, asyncio.get_running_loop(),
                            lambda: (self.settings.language, self.settings.prompt))
        # The client's turn detection, exactly: a fixed hang-over of silence_duration_ms.
        segmenter = Segmenter(SAMPLE_RATE, vad=self.state.config.realtime_vad, hangover_ms=s.silence_ms,
                              pre_roll_ms=s.prefix_ms)
        options = StreamOptions(step=self.state.config.realtime_step_s, hangover=None,
                                lockstep=self.state.config.realtime_lockstep, ring_seconds=60.0)
        stream = Stream(engine, segmenter=segmenter, options=options)
        gen = _Generation(stream, self._samples, self._latest)
        gen.forwarder = asyncio.ensure_future(self._forward(gen))
        self._gen = self._latest = gen
        return gen

    def _run_job(self, job: PoolJob):
        served = self.state.catalog.resolve(self.settings.model)
        return self.state.run(served, job, bounded=False)

    @staticmethod
    def _item(gen: _Generation, utterance: int) -> str:
        return gen.items.setdefault(utterance, new_id("item"))

    async def _forward(self, gen: _Generation) -> None:
        """The stream's events -> the session's, until the generation's stream ends."""
        try:
            if gen.previous is not None:   # its items commit before any of this one's
                await gen.previous.committed_all.wait()
                gen.previous = None
            async for ev in gen.stream:
                self._forward_event(gen, ev)
        except Exception as exc:  # the stream failed (a model could not load...): say so, go on
            log.warning("realtime stream failed: %s", exc)
            self._error(f"transcription failed: {exc}", "transcription_failed")
            if self._gen is gen:
                self._gen = None  # the next audio starts a fresh stream
        finally:
            gen.committed_all.set()
            if gen.explicit_commit and not gen.input_ended_turn:
                self._error("the buffer holds no speech to commit", "input_audio_buffer_commit_empty")

    def _forward_event(self, gen: _Generation, ev) -> None:
        if isinstance(ev, SpeechStarted):
            self._send("input_audio_buffer.speech_started", item_id=self._item(gen, ev.utterance_id),
                       audio_start_ms=_ms(gen.offset + _samples(ev.audio_start)))
        elif isinstance(ev, Partial):
            self._delta(gen, ev.utterance_id, ev.stable)
        elif isinstance(ev, SpeechStopped):
            item = self._item(gen, ev.utterance_id)
            self._send("input_audio_buffer.speech_stopped", item_id=item,
                       audio_end_ms=_ms(gen.offset + _samples(ev.end)))
            self._send("input_audio_buffer.committed", item_id=item, previous_item_id=self._last_item)
            self._last_item = item
            if ev.input_ended:   # closing the input ended it: the last item of this generation
                gen.input_ended_turn = True
                gen.committed_all.set()
        elif isinstance(ev, Final):
            self._delta(gen, ev.utterance_id, ev.text)
            self._send(f"{_PREFIX}.completed", item_id=self._item(gen, ev.utterance_id),
                       content_index=0, transcript=ev.text,
                       usage={"type": "duration", "seconds": round(ev.end - ev.start, 3)})

    def _delta(self, gen: _Generation, utterance: int, text: str) -> None:
        sent = gen.sent.get(utterance, "")
        if len(text) > len(sent) and text.startswith(sent):
            gen.sent[utterance] = text
            self._send(f"{_PREFIX}.delta", item_id=self._item(gen, utterance), content_index=0,
                       delta=text[len(sent):])

    # ------------------------------------------------------------------ turns

    async def _commit(self, *, explicit: bool) -> None:
        self._feed(self._converter.flush())
        self._converter = ChunkConverter(self.settings.rate, what="input_audio_buffer.append audio")
        gen = self._gen
        if gen is not None:
            # Whether an utterance was open is known when the stream has segmented all its
            # input: its forwarder says so (an error for an explicit commit of no speech).
            gen.explicit_commit = explicit
            await self._end_generation(finish=True)
            return
        audio = np.concatenate(self._buffer) if self._buffer else np.empty(0, np.float32)
        self._buffer.clear()
        if len(audio) < MIN_SAMPLES:
            if explicit:
                self._error("buffer too small: at least 100 ms of audio must be committed",
                            "input_audio_buffer_commit_empty")
            return
        item = new_id("item")
        self._send("input_audio_buffer.committed", item_id=item, previous_item_id=self._last_item)
        self._last_item = item
        previous = self._turns[-1] if self._turns else None
        self._turns.append(asyncio.ensure_future(self._transcribe_turn(item, audio, previous)))

    async def _transcribe_turn(self, item: str, audio: np.ndarray, previous) -> None:
        if previous is not None:  # turns complete in order
            await asyncio.gather(previous, return_exceptions=True)
        s = self.settings
        try:
            result = await self._run_job(PoolJob(audio, TranscribeOptions(language=s.language,
                                                                          prompt=s.prompt)))
        except (LuminaError, ApiError) as exc:
            self._send(f"{_PREFIX}.failed", item_id=item, content_index=0,
                       error={"type": "server_error", "code": "transcription_failed",
                              "message": str(exc), "param": None})
            return
        text = result.transcript.text
        if text:
            self._send(f"{_PREFIX}.delta", item_id=item, content_index=0, delta=text)
        self._send(f"{_PREFIX}.completed", item_id=item, content_index=0, transcript=text,
                   usage={"type": "duration", "seconds": round(len(audio) / SAMPLE_RATE, 3)})

    async def _end_generation(self, *, finish: bool) -> None:
        """End the current stream: ``finish`` lets the open utterance get its final; else it is dropped.

        A finishing stream drains in the background (its final is decoded while
        the client's next audio already opens the next generation).
        """
        gen, self._gen = self._gen, None
        if gen is None:
            return
        if finish:
            gen.stream.close_input()
            self._draining.add(gen)
            gen.forwarder.add_done_callback(lambda _: self._draining.discard(gen))
        else:
            await _stop(gen)

    async def _stop_all(self) -> None:
        await self._end_generation(finish=False)
        for gen in list(self._draining):
            await _stop(gen)


async def _stop(gen: _Generation) -> None:
    await asyncio.to_thread(gen.stream.stop)  # joins the stream's threads: never on the event loop
    gen.forwarder.cancel()


def _samples(stream_time: float) -> int:
    """A stream time (s) as the sample position it was made from."""
    return round(stream_time * SAMPLE_RATE)


def _ms(samples: int) -> int:
    return samples * 1000 // SAMPLE_RATE
