"""No text from non-speech beyond files: streams with their default VAD, dictation typing and the
server's answers, on the real tiny.en; the same paths keep a short answer spoken alone."""

import asyncio
import io

import numpy as np
import pytest
import soundfile
from _real_util import padded
from _server_util import asgi_client
from _stream_util import chunks_of

from lumina import Final, Partial, Stream, StreamOptions, StreamStats
from lumina.apps.dictation import Typer
from lumina.apps.server import ServerConfig, create_app
from lumina.evaluation import HIBARI_VOICES, NON_SPEECH, non_speech, normalise
from lumina.models import ModelStore

pytestmark = pytest.mark.real

SIGNALS = sorted(NON_SPEECH)


def _events(engine, audio):
    quiet = np.zeros(16000, np.float32)  # the stream ends on silence, as a dictation pause does
    return list(Stream(engine, source=chunks_of(np.concatenate([audio, quiet])),
                       options=StreamOptions(lockstep=True)))


@pytest.mark.parametrize("signal", SIGNALS)
def test_a_stream_shows_and_types_nothing_for_non_speech(real_engine, signal):
    events = _events(real_engine, non_speech(signal, 10.0, seed=2))
    # The default VAD (energy edges, Silero's confirmation) opens no utterance: no event at all.
    assert [type(e).__name__ for e in events if not isinstance(e, StreamStats)] == []
    typed = []
    typer = Typer("xdotool", run=typed.append)
    for e in events:
        if isinstance(e, Partial):
            typer.partial(e)
        elif isinstance(e, Final):
            typer.final(e)
    assert typed == []


def test_a_stream_keeps_a_short_answer(real_engine, speech):
    events = _events(real_engine, padded(speech.render("Stop.", HIBARI_VOICES[0])))
    finals = [e.text for e in events if isinstance(e, Final)]
    assert [normalise(t) for t in finals] == ["stop"]


@pytest.fixture(scope="module")
def server(real_tiny_en, tmp_path_factory):
    config = ServerConfig(models={"tiny.en": real_tiny_en}, threads=2,
                          store=ModelStore(tmp_path_factory.mktemp("store")), serve_installed=False)
    app = create_app(config)
    yield app
    asyncio.run(app.state.lumina.aclose())


def _wav(audio) -> bytes:
    out = io.BytesIO()
    soundfile.write(out, audio, 16000, format="WAV", subtype="PCM_16")
    return out.getvalue()


def _ask(app, audio, fmt):
    async def go():
        client = asgi_client(app)
        return await client.audio.transcriptions.create(file=("a.wav", _wav(audio)), model="tiny.en",
                                                        response_format=fmt)
    return asyncio.run(go())


@pytest.mark.parametrize("signal", SIGNALS)
def test_the_server_answers_non_speech_with_no_text(server, signal):
    verbose = _ask(server, non_speech(signal, 10.0, seed=3), "verbose_json")
    assert verbose.text == "" and not verbose.segments
    assert _ask(server, non_speech(signal, 10.0, seed=3), "text") in ("", "\n")


def test_the_server_keeps_a_short_answer(server, speech):
    answer = _ask(server, padded(speech.render("Okay.", HIBARI_VOICES[0])), "json")
    assert normalise(answer.text) == "okay"
