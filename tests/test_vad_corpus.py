"""What the labelled corpus says must hold for the default detector (Silero), on fixed seeds.

The figures behind each threshold come from ``benchmarks/compare_vad.py`` (3 seeds per
cell): silence, noise and music alone opened no utterance, every utterance was found down
to 0 dB SNR (frame recall 0.97 at 0 dB), and in babble at 10 dB frame recall was 1.00
(babble itself is speech, so precision is not asserted).
"""

from __future__ import annotations

import numpy as np
import pytest

from lumina.evaluation.phrases import SpeechBank
from _stream_util import LOCKSTEP, ScriptedEngine, chunks_of
from lumina.evaluation.scenes import KINDS, SR, noise_scene, scene, score, swell_scene, utterances
from lumina import Engine, Segmenter, Stream
from lumina.audio.vad import SileroVAD
from lumina.audio.vad.factory import SILERO_THRESHOLD

QUIET = [("silence", 0.0), ("white", -20.0), ("pink", -30.0), ("clicks", -20.0),
         ("music", -40.0), ("music", -30.0), ("music", -20.0)]


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    return SpeechBank(tmp_path_factory.mktemp("vad-corpus"))


def quiet_scene(bank, kind, level):
    # The benchmark's seeds for the background alone (seed 0 of noise_corpus).
    return noise_scene(bank, kind, 30.0, level, 7 + KINDS.index(kind) if kind in KINDS else 0)


@pytest.mark.parametrize(("kind", "level"), QUIET, ids=[f"{k} {lv:g}" for k, lv in QUIET])
def test_non_speech_opens_no_utterance(bank, kind, level):
    assert utterances(Segmenter(vad="silero"), quiet_scene(bank, kind, level).audio) == []


def test_the_energy_vad_opens_utterances_on_music(bank):
    """Why streams in noise or music want vad="silero": the same music opens utterances with
    the energy VAD (the streams' default, see DEFAULT_VAD)."""
    assert len(utterances(Segmenter(vad="energy"), quiet_scene(bank, "music", -30.0).audio)) >= 10


@pytest.mark.parametrize(("kind", "level"), [("music", -20.0), ("white", -20.0), ("silence", 0.0)])
def test_a_stream_gives_no_event_and_decodes_nothing_on_non_speech(bank, kind, level):
    engine = ScriptedEngine(lambda i, audio, speed: [1, 2, 3])
    audio = quiet_scene(bank, kind, level).audio[:10 * SR]
    events = list(Stream(engine, source=chunks_of(audio), segmenter=Segmenter(vad="silero"),
                         options=LOCKSTEP))
    assert events == [] and engine.calls == []


@pytest.mark.parametrize(("kind", "level"), [("music", -20.0), ("white", -20.0), ("silence", 0.0)])
def test_a_file_without_speech_gives_no_text_and_says_why(bank, micro_model, tmp_path, kind, level):
    audio = quiet_scene(bank, kind, level).audio[:10 * SR]
    with Engine(micro_model, warmup=False) as engine:
        t = engine.transcribe(audio, vad=True)
        assert (t.text, t.segments, t.device) == ("", (), "none")
        assert t.reason == "no speech found by the silero VAD in 10.00 s of audio"
        segments, info = engine.transcribe_iter(audio)
        assert list(segments) == [] and segments.reason == t.reason and info.vad == "silero"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_speech_in_babble_at_10_db_is_found(bank, seed):
    sc = scene(bank, "babble", 10.0, 100 * seed + KINDS.index("babble"))
    result = score(sc.spans, utterances(Segmenter(vad="silero"), sc.audio), len(sc.audio))
    assert (result.found, result.missed) == (4, 0)
    assert result.recall >= 0.95


@pytest.mark.parametrize("kind", KINDS)
def test_every_utterance_is_found_at_0_db(bank, kind):
    sc = scene(bank, kind, 0.0, KINDS.index(kind))
    result = score(sc.spans, utterances(Segmenter(vad="silero"), sc.audio), len(sc.audio))
    assert (result.found, result.missed) == (4, 0)
    assert result.recall >= 0.9


def _tail_and_extra(vad, sc):
    spans = utterances(Segmenter(vad="silero"), sc.audio) if vad is None else _spans(vad, sc.audio)
    end = sc.spans[0][1]
    tail = max([b for a, b in spans if a < end] + [end]) - end
    return tail / SR, sum(1 for a, b in spans if a >= end)


def _spans(vad, audio):
    decisions = np.concatenate([vad.process(audio[i:i + 320]) for i in range(0, len(audio), 320)]
                               + [vad.flush()])
    edges = np.flatnonzero(np.diff(np.concatenate([[0], decisions, [0]])))
    return [(int(a) * 320, int(b) * 320) for a, b in zip(edges[::2], edges[1::2])]


def test_state_carried_from_speech_does_not_hold_a_noise_swell(bank):
    """The probe of the issue: a loud swell of hiss, buzz and clicks that starts under the
    last second of speech. Without resets the state carried from the speech opens an
    utterance on the swell; with the default policy none opens and the speech's own
    utterance ends within half a second of the speech."""
    sc = swell_scene(bank, 1.0, seed=1)
    no_reset = SileroVAD(threshold=SILERO_THRESHOLD, start_frames=10, reset_quiet_windows=0,
                         max_state_s=0, prime_s=0)   # the default Segmenter's, without resets
    tail, extra = _tail_and_extra(no_reset, sc)
    assert extra == 1
    tail, extra = _tail_and_extra(None, sc)
    assert tail <= 0.5 and extra == 0
