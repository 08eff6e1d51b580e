"""Long recordings: block reading, speech regions, Engine.transcribe_iter and transcribe(vad=)."""

from __future__ import annotations

import dataclasses
import io
import threading

import numpy as np
import pytest
import soundfile as sf

from _vad_util import SR, write_wav
from lumina.evaluation.utterances import silence, speak
from lumina import (ArgumentError, AudioFormatError, AudioNotFoundError, Engine, Segment,
                    SegmentIterator, StateError, Token, TranscriptionAborted, TranscriptionInfo,
                    load_audio)
from lumina.asr.long_form import _Window
from lumina.asr.speech_regions import Piece, SpeechRegions
from lumina.asr.transcript import Timings, Transcript
from lumina.audio.blocks import AudioBlocks


@pytest.fixture(scope="module")
def phrase(tmp_path_factory):
    return speak("please send the report to the whole team before friday",
                 tmp_path_factory.mktemp("long") / "p.wav")


@pytest.fixture(scope="module")
def talk(phrase):
    """2 s pause, the phrase, 40 s pause, the phrase, 3 s pause: where the speech is is known."""
    audio = np.concatenate([silence(2.0), phrase, silence(40.0), phrase, silence(3.0)])
    spans = [(2 * SR, 2 * SR + len(phrase)), (42 * SR + len(phrase), 42 * SR + 2 * len(phrase))]
    return audio, spans


# ----------------------------------------------------------------------------- blocks

@pytest.mark.parametrize(("rate", "channels", "subtype", "fmt"), [
    (16000, 1, "PCM_16", "WAV"), (44100, 2, "PCM_16", "WAV"), (48000, 1, "FLOAT", "WAV"),
    (22050, 2, "PCM_24", "FLAC"), (8000, 1, "PCM_16", "OGG")])
@pytest.mark.parametrize("block_s", [10.0, 0.37])
def test_blocks_equal_load_audio(tmp_path, rate, channels, subtype, fmt, block_s):
    rng = np.random.default_rng(rate)
    frames = (0.2 * rng.standard_normal((int(3.3 * rate), channels))).astype(np.float32)
    path = tmp_path / f"a.{fmt.lower()}"
    sf.write(path, frames, rate, subtype=subtype if fmt != "OGG" else "VORBIS", format=fmt)
    with AudioBlocks(path, block_s=block_s) as blocks:
        got = list(blocks)
        assert blocks.duration == pytest.approx(3.3, abs=1 / rate)
    assert np.array_equal(np.concatenate(got), load_audio(path))
    assert max(len(b) for b in got) <= int(block_s * SR) + 1000   # a resampler's worth more at most
    assert np.array_equal(np.concatenate(list(AudioBlocks(path.read_bytes(), block_s=block_s))),
                          load_audio(path))


def test_blocks_of_an_array_at_a_rate():
    x = np.arange(48000, dtype=np.int16).reshape(24000, 2)
    got = np.concatenate(list(AudioBlocks(x, sample_rate=48000, block_s=0.1)))
    assert np.array_equal(got, load_audio(x, source_sample_rate=48000))


def test_blocks_refuse_bad_input(tmp_path):
    with pytest.raises(AudioNotFoundError, match="no such file"):
        AudioBlocks(tmp_path / "missing.wav")
    with pytest.raises(AudioFormatError, match="cannot decode audio"):
        AudioBlocks(b"not audio at all, not at all")
    with pytest.raises(AudioFormatError, match="sample_rate applies only to arrays"):
        AudioBlocks(b"RIFF", sample_rate=8000)
    with pytest.raises(ArgumentError, match="block_s must be > 0"):
        AudioBlocks(np.zeros(10, np.float32), block_s=0)

    with pytest.raises(AudioFormatError, match="not bytes; open it in binary mode"):
        AudioBlocks(io.StringIO("RIFF"))


def test_a_pipe_is_read_whole(tmp_path):
    x = np.linspace(-0.5, 0.5, 3 * SR, dtype=np.float32)
    path = write_wav(tmp_path / "x.wav", x)

    class Pipe(io.RawIOBase):
        def __init__(self, data):
            self.data = data

        def readable(self):
            return True

        def seekable(self):
            return False

        def read(self, n=-1):
            data, self.data = self.data, b""
            return data

    got = np.concatenate(list(AudioBlocks(Pipe(path.read_bytes()), block_s=1.0)))
    assert np.array_equal(got, load_audio(path))


def test_a_bad_sample_is_found_while_reading(tmp_path):
    x = np.zeros(3 * SR, np.float32)
    x[2 * SR + 5] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    reader = AudioBlocks(path, block_s=1.0)
    blocks = iter(reader)
    assert len(next(blocks)) == SR and len(next(blocks)) == SR
    with pytest.raises(AudioFormatError, match=r"sample 5 .* is nan"):
        next(blocks)
    assert reader._closers == []                      # the file is released
    with pytest.raises(StateError, match="read already"):
        list(reader)


# ----------------------------------------------------------------------------- regions

def pieces_of(regions, audio, block):
    out = []
    for i in range(0, len(audio), block):
        out += regions.feed(audio[i:i + block])
    return out + regions.flush()


def test_without_a_detector_the_pieces_are_the_input_cut_at_quiet_points():
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(75 * SR)).astype(np.float32)
    x[int(28.5 * SR):int(28.5 * SR) + 640] = 0.0        # the quietest moment near 30 s
    pieces = pieces_of(SpeechRegions(None), x, 7919)
    assert np.array_equal(np.concatenate([p.audio for p in pieces]), x)
    assert [p.start for p in pieces][:2] == [0, int(28.5 * SR) + 320]   # the later silent frame
    assert all(len(p.audio) <= 30 * SR for p in pieces)
    assert all(a.end == b.start for a, b in zip(pieces, pieces[1:]))


def test_speech_pieces_are_padded_slices_of_the_input(talk):
    audio, spans = talk
    one = pieces_of(SpeechRegions("silero"), audio, SR)
    other = pieces_of(SpeechRegions("silero"), audio, 12345)
    assert [(p.start, p.end) for p in one] == [(p.start, p.end) for p in other]
    assert len(one) == 2
    for piece, (a, b) in zip(one, spans):
        assert np.array_equal(piece.audio, audio[piece.start:piece.end])
        assert a - 0.4 * SR - 640 <= piece.start <= a - 0.4 * SR + 0.2 * SR   # 0.4 s pad
        assert b + 0.4 * SR <= piece.end <= b + 0.7 * SR


def test_the_audio_kept_does_not_grow_with_the_input(phrase):
    """Ten minutes of talk: what SpeechRegions holds stays below a window and a block."""
    regions, held, found = SpeechRegions("energy"), [], 0
    talk = np.concatenate([phrase, silence(3.0)])
    for _ in range(int(600 * SR / len(talk))):
        found += len(regions.feed(talk))
        held.append(len(regions._hist))
    assert found > 100 and max(held) <= 30 * SR + len(talk)


def test_continuous_speech_is_cut_into_whole_windows(phrase):
    audio = np.tile(phrase, int(70 * SR / len(phrase)) + 1)
    pieces = pieces_of(SpeechRegions("energy"), audio, SR)
    assert all(len(p.audio) <= 30 * SR for p in pieces) and len(pieces) >= 3
    assert all(a.end == b.start for a, b in zip(pieces, pieces[1:]))


def test_region_settings_are_checked():
    with pytest.raises(ArgumentError, match="pad_s <= min_silence_s"):
        SpeechRegions(pad_s=2.0)
    with pytest.raises(ArgumentError, match="max_s must be >= 4.0"):
        SpeechRegions(max_s=3.0)


# ----------------------------------------------------------------------------- windows and time

def test_window_times_map_back_onto_the_input():
    w = _Window()
    w.add(Piece(32000, np.zeros(16000, np.float32)))       # input 2.0-3.0 s = window 0-1 s
    w.add(Piece(160000, np.zeros(8000, np.float32)))       # input 10.0-10.5 s = window 1-1.5 s
    assert [w.to_input_time(t) for t in (0.0, 0.5, 1.0, 1.25, 1.5, 9.0)] == [
        2.0, 2.5, 3.0, 10.25, 10.5, 10.5]


class FakeEngine:
    """Answers each window with one segment spanning it and two timed tokens; records calls."""

    def __init__(self, gate: threading.Event | None = None):
        self.windows: list[int] = []
        self.gate = gate
        self.entered = threading.Event()

    def _language_for(self, language):
        return language or "en"

    def _decode_window(self, audio, *, language, prompt, speed, word_timestamps, translate,
                       temperature, beam_size, should_abort, threads=None):
        self.windows.append(len(audio))
        self.entered.set()
        while self.gate is not None and not self.gate.wait(0.01):
            if should_abort():
                raise TranscriptionAborted("stopped")
        end = len(audio) / SR
        tokens = (Token(1, " a", 0.9, 0.0, 0.5), Token(2, " b", 0.9, 0.5, end))
        segment = Segment(0.0, end, f"w{len(self.windows)}", tokens)
        return Transcript(segment.text, (segment,), "en", "cpu", Timings(encode=1.0, decode=2.0))


def fake_iter(engine, audio, **kw):
    from lumina.asr.long_form import transcribe_iter
    return transcribe_iter(engine, audio, **kw)


def test_segments_come_one_window_at_a_time_in_input_time(talk):
    audio, spans = talk
    engine, progress = FakeEngine(), []
    segments, info = fake_iter(engine, audio, word_timestamps=True,
                               on_progress=lambda d, t: progress.append((d, t)))
    assert isinstance(segments, SegmentIterator) and engine.windows == []   # nothing decoded yet
    assert info == TranscriptionInfo(len(audio) / SR, "silero", None)
    first = next(segments)
    assert len(engine.windows) == 1 and first.text == "w1"     # one window decoded, no more
    rest = list(segments)
    pieces = pieces_of(SpeechRegions("silero"), audio, 10 * SR)
    # The 40 s pause separates the two pieces into two windows (it exceeds 30 s).
    assert [s.text for s in [first, *rest]] == ["w1", "w2"]
    assert [(s.start, s.end) for s in [first, *rest]] == [(p.start / SR, p.end / SR) for p in pieces]
    assert [t.start for t in first.tokens] == [pieces[0].start / SR, pieces[0].start / SR + 0.5]
    assert progress[-1] == (len(audio) / SR, len(audio) / SR)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    assert segments.language == "en" and segments.reason is None


def test_close_pieces_share_a_window(phrase):
    audio = np.concatenate([silence(1.0), phrase, silence(2.0), phrase, silence(1.0)])
    engine = FakeEngine()
    segments, _ = fake_iter(engine, audio)
    got = list(segments)
    assert len(engine.windows) == 1 and len(got) == 1
    assert got[0].start == pytest.approx(0.6, abs=0.25) and got[0].end == pytest.approx(
        len(audio) / SR - 0.6, abs=0.35)


def test_transcript_collects_everything_once(talk):
    segments, _ = fake_iter(FakeEngine(), talk[0])
    t = segments.transcript()
    assert t.text == "w1 w2" and len(t.segments) == 2 and t.device == "cpu"
    assert (t.timings.encode, t.timings.decode) == (2.0, 4.0) and t.reason is None
    again, _ = fake_iter(FakeEngine(), talk[0])
    next(again)
    with pytest.raises(StateError, match="before iterating"):
        again.transcript()


def test_cancel_from_another_thread_stops_a_decode_in_progress(talk):
    gate = threading.Event()
    engine = FakeEngine(gate)
    segments, _ = fake_iter(engine, talk[0])
    def cancel_once_decoding():
        engine.entered.wait()
        segments.cancel()

    canceller = threading.Thread(target=cancel_once_decoding)
    canceller.start()
    with pytest.raises(TranscriptionAborted):
        next(segments)     # the decode polls should_abort, which cancel() turned True
    canceller.join()
    assert len(engine.windows) == 1 and not gate.is_set()
    assert list(segments) == []                 # the iteration is over, the file released
    assert segments._blocks._closers == []


def test_should_abort_stops_between_windows(talk):
    calls = []
    segments, _ = fake_iter(FakeEngine(), talk[0], should_abort=lambda: len(calls) > 0)
    calls.append(next(segments))
    with pytest.raises(TranscriptionAborted, match="cancelled"):
        next(segments)


def test_decoding_options_reach_every_window(talk):
    seen = []

    class Recording(FakeEngine):
        def _decode_window(self, audio, **kw):
            seen.append((kw["translate"], kw["temperature"], kw["prompt"], kw["speed"]))
            return super()._decode_window(audio, **kw)

    segments, _ = fake_iter(Recording(), talk[0], translate=True, temperature=0.4,
                            prompt="Minutes:", speed="fast")
    assert len(list(segments)) == 2 and seen == [(True, 0.4, "Minutes:", "fast")] * 2


@pytest.mark.parametrize(("ran", "reported"), [
    (["fast", "fast"], "fast"), (["accurate", "accurate"], "accurate"), (["fast", "accurate"], "mixed")])
def test_transcript_says_the_speed_that_ran_not_the_one_asked_for(talk, ran, reported):
    class Falling(FakeEngine):
        """Windows decoded at the speeds of ``ran`` (a suspect fast decode runs again accurately)."""

        def _decode_window(self, audio, **kw):
            t = super()._decode_window(audio, **kw)
            return dataclasses.replace(t, speed=ran[len(self.windows) - 1])

    segments, _ = fake_iter(Falling(), talk[0], speed="fast")
    assert segments.transcript().speed == reported
    silent, _ = fake_iter(Falling(), silence(3.0), speed="fast")
    assert silent.transcript().speed == "fast"      # nothing ran: the speed asked for


class TwoSlots(FakeEngine):
    """An engine with two decode slots; each window's text is its length, whatever the order of
    the calls. Records the language each decode was asked for and how many ran at once."""

    concurrency = 2
    threads = 4

    def __init__(self, meet: bool = False, hold: bool = False):
        super().__init__()
        self.meet = threading.Barrier(2, timeout=20) if meet else None  # passed only by 2 at once
        self.hold = hold                 # the first decode ends once a second runs; the others
        self.second = threading.Event()  # run until should_abort
        self.lock = threading.Lock()
        self.running = self.most = 0
        self.asked: list[tuple[str | None, int]] = []   # (language, decodes running), by call
        self.threads_asked: list[int | None] = []
        self.aborted = 0

    def _decode_window(self, audio, *, language, should_abort, **kw):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.asked.append((language, self.running))
            self.threads_asked.append(kw.get("threads"))
            first = len(self.asked) == 1
            if not first:
                self.second.set()
        try:
            if self.meet is not None and len(self.asked) <= 2:
                self.meet.wait()
            if self.hold and first:
                assert self.second.wait(20)
            while self.hold and not first:
                if should_abort():
                    with self.lock:
                        self.aborted += 1
                    raise TranscriptionAborted("stopped")
                threading.Event().wait(0.005)
            return dataclasses.replace(_length_named(audio), language="en" if language == "auto" else language)
        finally:
            with self.lock:
                self.running -= 1


def _length_named(audio) -> Transcript:
    end = len(audio) / SR
    segment = Segment(0.0, end, f"n{len(audio)}", (Token(1, " a", 0.9, 0.0, end),))
    return Transcript(segment.text, (segment,), "en", "cpu", Timings(encode=1.0, decode=2.0))


class OneSlot(FakeEngine):
    def _decode_window(self, audio, **kw):
        super()._decode_window(audio, **kw)
        return _length_named(audio)


@pytest.fixture(scope="module")
def four_windows(phrase):
    """About 100 s of the phrase and pauses: four windows without a detector."""
    return np.tile(np.concatenate([phrase, silence(2.0)]), int(100 * SR / (len(phrase) + 2 * SR)) + 1)


def test_an_engine_with_two_slots_decodes_two_windows_at_once_and_hands_them_out_in_order(
        four_windows):
    parallel = TwoSlots(meet=True)   # the first two windows wait for each other: both must run
    progress = []
    got, _ = fake_iter(parallel, four_windows, vad=False, language="en",
                       on_progress=lambda done, total: progress.append(done))
    got = got.transcript()
    one, _ = fake_iter(OneSlot(), four_windows, vad=False, language="en")
    assert got.segments == one.transcript().segments and len(got.segments) == 4
    assert parallel.most == 2                       # two at once, never more
    assert got.timings.encode == 4.0 and got.timings.decode == 8.0
    assert progress == sorted(progress) and progress[-1] == len(four_windows) / SR


def test_the_engine_s_threads_are_shared_out_only_when_windows_decode_side_by_side(four_windows, phrase):
    parallel = TwoSlots()                             # 4 threads, 2 slots
    fake_iter(parallel, four_windows, vad=False, language="en")[0].transcript()
    assert parallel.threads_asked == [2, 2, 2, 2]     # every window of a long input: 4 // 2
    short = TwoSlots()
    fake_iter(short, np.concatenate([phrase, silence(1.0)]), vad=False, language="en")[0].transcript()
    assert short.threads_asked == [None]              # one window: the engine's own 4


def test_the_first_window_finds_the_language_alone(four_windows):
    class Multilingual(TwoSlots):
        def _language_for(self, language):
            return language or "auto"

    parallel = Multilingual()
    got = fake_iter(parallel, four_windows, vad=False)[0].transcript()
    assert parallel.asked[0] == ("auto", 1)         # decoded alone, to find the language
    assert [language for language, _ in parallel.asked] == ["auto", "en", "en", "en"]
    assert got.language == "en" and len(got.segments) == 4
    english = TwoSlots(meet=True)                   # an English model: two at once from the start
    fake_iter(english, four_windows, vad=False)[0].transcript()
    assert [language for language, _ in english.asked] == ["en"] * 4 and english.most == 2
    assert got.language == "en" and len(got.segments) == 4


def test_closing_early_stops_the_windows_decoding_ahead(four_windows):
    parallel = TwoSlots(hold=True)
    segments, _ = fake_iter(parallel, four_windows, vad=False, language="en")
    first = next(segments)
    assert first.text.startswith("n") and parallel.running >= 1   # the next decoding ahead
    segments.close()
    assert parallel.running == 0 and parallel.aborted == len(parallel.asked) - 1 >= 1
    assert not [t for t in threading.enumerate() if t.name.startswith("lumina-window")]
    assert segments._blocks._closers == []


def test_a_failing_window_fails_the_iteration_in_order(four_windows):
    class ThirdFails(TwoSlots):
        def _decode_window(self, audio, **kw):
            got = super()._decode_window(audio, **kw)
            if len(self.asked) == 3:
                raise TranscriptionAborted("the third window failed")
            return got

    segments, _ = fake_iter(ThirdFails(), four_windows, vad=False, language="en")
    assert len([next(segments), next(segments)]) == 2   # the windows before it come first
    with pytest.raises(TranscriptionAborted, match="the third window failed"):
        next(segments)


def test_bad_arguments(talk):
    with pytest.raises(ArgumentError, match="vad must be True, False or one of"):
        fake_iter(FakeEngine(), talk[0], vad="loud")
    with pytest.raises(ArgumentError, match="on_progress must be callable"):
        fake_iter(FakeEngine(), talk[0], on_progress=3)
    with pytest.raises(ArgumentError, match="temperature must be a number from 0 to 1"):
        fake_iter(FakeEngine(), talk[0], temperature=2)


# ----------------------------------------------------------------------------- the real engine

def test_vad_transcription_of_a_file_with_the_model(micro_model, talk, tmp_path):
    audio, spans = talk
    path = write_wav(tmp_path / "talk.wav", audio)
    pieces = pieces_of(SpeechRegions("silero"), load_audio(path), 10 * SR)
    with Engine(micro_model, warmup=False) as engine:
        heard = []
        whole = engine.transcribe(path, vad=True, word_timestamps=True, on_segment=heard.append)
        segments, info = engine.transcribe_iter(path, word_timestamps=True)
        streamed = list(segments)
        # Each piece is its own window here (the pause is longer than a window), so
        # decoding the piece alone is the reference for the text and the tokens.
        reference = [engine.transcribe(p.audio, word_timestamps=True) for p in pieces]
    assert whole.segments == tuple(streamed) == tuple(heard) and whole.text
    assert [[t.id for s in r.segments for t in s.tokens] for r in reference] == [
        [t.id for s in streamed if p.start / SR <= s.start <= p.end / SR for t in s.tokens]
        for p in pieces]
    for s in streamed:
        piece = next(p for p in pieces if p.start / SR <= s.start <= p.end / SR)
        assert all(piece.start / SR <= t.start <= t.end <= piece.end / SR for t in s.tokens)
    assert info.duration == len(audio) / SR and whole.device == "cpu" and whole.reason is None


def test_vad_transcription_reports_the_accurate_decode_a_suspect_fast_one_became(
        micro_model, phrase, monkeypatch):
    import lumina.asr.engine

    audio = np.concatenate([silence(1.0), phrase, silence(1.0)])
    with Engine(micro_model, warmup=False) as engine:
        assert engine.transcribe(audio, vad=True, speed="fast").speed == "fast"
        monkeypatch.setattr(lumina.asr.engine, "fast_result_suspect", lambda *args: True)
        assert engine.transcribe(audio, vad=True, speed="fast").speed == "accurate"


def test_vad_transcription_refuses_what_it_would_drop(micro_model, phrase):
    with Engine(micro_model, warmup=False, cache=True) as cached:
        with pytest.raises(ArgumentError, match=r"transcribe\(vad=...\) .* does not consult the "
                                                r"engine's phrase cache"):
            cached.transcribe(phrase, vad=True)
        assert cached.transcribe(phrase).text     # the cache's own path is untouched
    with Engine(micro_model, warmup=False) as engine:
        with pytest.raises(ArgumentError, match="on_candidate applies to phrase-cache lookups"):
            engine.transcribe(phrase, vad="energy", on_candidate=print)


def test_without_vad_a_short_file_decodes_as_transcribe_does(micro_model, phrase):
    with Engine(micro_model, warmup=False) as engine:
        plain = engine.transcribe(phrase, word_timestamps=True)
        segments, info = engine.transcribe_iter(phrase, vad=False, word_timestamps=True)
        assert tuple(segments) == tuple(s for s in plain.segments if s.text)
        assert info.vad is None
        tiny = engine.transcribe_iter(np.zeros(800, np.float32), vad=False)[0].transcript()
        assert tiny.text == "" and tiny.reason == "audio is 50 ms long; whisper needs at least 100 ms"


def _peak_traced_bytes(path, vad) -> tuple[int, int]:
    """(peak bytes allocated while a file is transcribed with a FakeEngine, windows decoded)."""
    import tracemalloc
    engine = FakeEngine()
    tracemalloc.start()
    try:
        segments, _ = fake_iter(engine, path, vad=vad)
        for _ in segments:
            pass
        return tracemalloc.get_traced_memory()[1], len(engine.windows)
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("vad", [False, "energy"])
def test_memory_for_a_file_does_not_grow_with_its_length(phrase, tmp_path, vad):
    """Peak allocations (numpy's buffers are traced) for 8 and 16 minutes of talk are those
    for 4: blocks in, 30 s windows out; the WAV is mapped, never held (16 min = 61 MB float32)."""
    talk = np.concatenate([phrase, silence(3.0)])
    peaks, windows = {}, {}
    for minutes in (4, 8, 16):
        path = write_wav(tmp_path / f"{minutes}.wav", np.tile(talk, int(minutes * 60 * SR / len(talk))))
        peaks[minutes], windows[minutes] = _peak_traced_bytes(path, vad)
    assert windows[16] >= 4 * windows[4] - 4 and windows[4] >= 6   # four times the work
    window_bytes = 30 * SR * 4
    assert peaks[4] < 4 * window_bytes        # a few windows and blocks, not the 4 minutes (15 MB)
    # Longer input, the same peak, within a quarter of one window (where the windows fall).
    assert max(peaks[8], peaks[16]) < peaks[4] + window_bytes // 4


@pytest.mark.real
def test_two_slots_give_the_real_model_s_text_of_one_decode_after_another(real_tiny_en, speech):
    """A minute of real speech in three windows: two windows at a time (two states, one thread
    each) hands out exactly the segments, tokens and word times of one window after another."""
    from lumina.evaluation import HIBARI_VOICES, SENTENCES, recording, word_errors

    rec = recording(speech, SENTENCES[:10], HIBARI_VOICES, 1.1)
    got = {}
    for concurrency in (1, 2):
        with Engine(real_tiny_en, threads=1, concurrency=concurrency) as engine:
            got[concurrency] = engine.transcribe_iter(rec.audio, vad=False,
                                                      word_timestamps=True)[0].transcript()
    assert got[2].segments == got[1].segments and len(got[1].segments) >= 10
    assert word_errors(" ".join(rec.sentences), got[2].text).rate <= 0.05
