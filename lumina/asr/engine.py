"""The transcription engine: audio in, :class:`~lumina.transcript.Transcript` out.

An :class:`Engine` owns one whisper.cpp model. Its constructor returns at
once; a background thread finds, validates, loads and warms up the model.
Calls wait for that (``Timings.load`` says how long) and then run on the
model, one at a time by default (a whisper.cpp context is not safe for
concurrent use), so many threads and asyncio tasks may share one engine and
get what a sequential run would give. ``concurrency=N`` lets N calls decode
at once on one copy of the weights (:mod:`lumina.asr.model_pool`).

Two speeds, ``"accurate"`` (default) and ``"fast"``, never switched
silently: see :mod:`lumina.asr.speed`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import os
import threading
import time
from collections.abc import Callable

import numpy as np

from lumina.asr import long_form as _long_form
from lumina.asr.arguments import (check_cache, check_call, check_concurrency, check_decoding,
                                  check_threads, check_timeout, check_vad_call, model_name)
from lumina.asr.backend import DecodeOptions, RunResult
from lumina.asr.model_protocol import WhisperDecoder
from lumina.asr.cached import consult_or_answer, decode_or_confirm, make_cache, remember
from lumina.asr.choice.engine_choice import check_latency, choose_for_engine
from lumina.asr.device import check_device_request
from lumina.asr.loading import LoadedModel, default_language, load_engine_model
from lumina.asr.protocol import TranscribeOptions
from lumina.asr.relay import SegmentRelay
from lumina.asr.speech_filter import heard_only_sound
from lumina.asr.speed import (beam_size_for, check_speed, fast_options, fast_result_suspect,
                              full_window_options)
from lumina.asr.threads import default_threads
from lumina.asr.word_times import SoundSnapper, snap_to_sound
from lumina.asr.transcript import (MIN_SAMPLES, Segment, Transcript, from_run, too_short,
                                   with_timings)
from lumina.audio.convert import SAMPLE_RATE
from lumina.audio.files import load_samples
from lumina.errors import ArgumentError, StateError, TranscriptionAborted
from lumina.models.store import ModelStore

__all__ = ["Engine"]



class Engine:
    """Speech-to-text on one whisper.cpp model, loaded in the background.

    Parameters
    ----------
    model : str or path-like, default "base.en"
        A registry name (``lumina models list``) installed in the model store,
        or the path of a ggml model file; or ``"auto"``: the most accurate
        model this machine runs within ``latency`` (:func:`lumina.choose_model`;
        the first time, measuring the machine takes 10-40 s per candidate
        family and storage type on two cores, in the background like loading). ``Transcript.model`` says which
        model answered, ``Engine.choice`` why.
    device : {"auto", "cpu", "gpu", "cuda", "vulkan", "metal"}, default "auto"
        ``"auto"`` uses a GPU when the installed whisper.cpp has a GPU backend
        that initialises, and otherwise the CPU (with a warning if a GPU
        backend failed). A named GPU that is not available raises
        :class:`~lumina.errors.DeviceError`.
    threads : int, optional
        CPU threads per inference, at least 1; default: the CPUs this process
        may use (affinity mask, cgroup quota), at most 4
        (:func:`lumina.asr.threads.default_threads`).
    preload : bool, default True
        Start loading now, in a background thread. With False the first call loads.
    warmup : bool, default True
        After loading, run one greedy inference (no temperature fallback) on
        1 s of synthetic audio so the first real call does not pay for
        first-use allocations.
    cache : PhraseCache, True or None
        A phrase cache to answer repeated phrases from (``True`` makes a
        default in-memory :class:`~lumina.cache.PhraseCache`). Identical audio
        is answered at once; a similar re-take only after a short decode of it
        agrees with the cached text (:mod:`lumina.asr.cached`).
    store : ModelStore, optional
        Where registry names are looked up; default ``ModelStore()``.
    download : bool, default False
        Download a registry model that is not installed (otherwise a missing
        model raises :class:`~lumina.errors.ModelNotFoundError` saying how to get it).
    concurrency : int, default 1
        Calls that may decode at the same time (each with ``threads``
        threads); more wait for a free slot. 1 keeps one whisper.cpp context.
        :meth:`transcribe_iter` also uses the slots for one recording: up to
        ``concurrency`` of its windows decode side by side, sharing ``threads``.
    shared_weights : bool, optional
        How ``concurrency > 1`` is served: True (the default then) loads the
        weights once with one whisper.cpp state per slot; False loads one
        context (one copy of the weights) per slot. True with
        ``concurrency=1`` uses one state, which also reports
        ``Segment.no_speech_prob``. Where the state API cannot be used
        safely lumina loads contexts instead and logs why. Only states give a
        beam-search or temperature-fallback decode a fresh random generator
        per call (:mod:`lumina.asr.shared_model`); with contexts such a decode
        of the same audio may read differently after other calls.
    latency : str or float, optional
        With ``model="auto"`` only: the budget the model is chosen for, a
        preset (``"interactive"``: a 2 s command within 300 ms, ``"dictation"``,
        the default: a 5 s sentence within 1 s, ``"batch"``: a file at half real
        time) or seconds per 5 s dictated sentence. ``download=True`` lets the
        choice include models that are not installed. With no installed model
        predicted to fit, loading raises :class:`~lumina.errors.ModelNotFoundError`
        naming what would fit if downloaded.

    Raises
    ------
    ArgumentError
        ``model`` is not a str or path, ``threads`` or ``concurrency`` is not
        an int >= 1, ``cache`` is not a phrase cache, or ``latency`` is not a
        budget or is given with an explicit model.
    DeviceError
        ``device`` is none of the kinds above (a named GPU the installation
        lacks is reported when the model loads).

    Examples
    --------
    >>> with Engine("tiny.en") as engine:                       # doctest: +SKIP
    ...     print(engine.transcribe("meeting.wav").text)
    """

    def __init__(self, model: str | os.PathLike[str] = "base.en", *, device: str = "auto",
                 threads: int | None = None, preload: bool = True, warmup: bool = True,
                 cache=None, store: ModelStore | None = None, download: bool = False,
                 concurrency: int = 1, shared_weights: bool | None = None,
                 latency: str | float | None = None) -> None:
        self.model_name = model_name(model)
        self._latency = check_latency(self.model_name, latency)
        #: Why ``model="auto"`` chose the model (a :class:`~lumina.asr.choice.ModelPick`), once loaded.
        self.choice = None
        check_threads(threads)
        check_concurrency(concurrency, shared_weights)
        self.concurrency = concurrency
        self._shared_weights = shared_weights
        check_cache(cache)
        check_device_request(device)
        self.threads = threads or default_threads()
        self._device_request = device
        self._warmup = warmup
        self._store = store
        self._download = download
        self.cache = make_cache(cache)
        self._load_lock = threading.Lock()
        self._future: concurrent.futures.Future[LoadedModel] | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(4, concurrency), thread_name_prefix="lumina-engine")
        self._closed = False
        if preload:
            self._start_load()

    # ------------------------------------------------------------------ loading

    def _start_load(self) -> concurrent.futures.Future[LoadedModel]:
        with self._load_lock:
            if self._closed:
                raise StateError(f"the engine is closed (model {self.model_name!r}); "
                                 "create a new Engine")
            if self._future is None:
                self._future = concurrent.futures.Future()
                threading.Thread(target=self._load, name="lumina-load", daemon=True).start()
            return self._future

    def _load(self) -> None:
        future = self._future
        try:
            future.set_result(self._load_model())
        except BaseException as exc:  # handed to whoever waits; never lost in the thread
            future.set_exception(exc)

    def _load_model(self) -> LoadedModel:
        if self._latency is not None:
            self.choice = choose_for_engine(self._latency, store=self._store or ModelStore(),
                                            device=self._device_request, threads=self.threads,
                                            download=self._download)
            self.model_name = self.choice.name
        return load_engine_model(self.model_name, store=self._store or ModelStore(),
                                 download=self._download, device=self._device_request,
                                 concurrency=self.concurrency, shared_weights=self._shared_weights,
                                 warmup_threads=self.threads if self._warmup else None)

    def wait_ready(self, timeout: float | None = None) -> None:
        """Block until the model is loaded and warmed up.

        Raises
        ------
        ModelNotFoundError, ModelIntegrityError, BackendError, DeviceError
            What loading raised.
        StateError
            The engine is closed.
        TimeoutError
            ``timeout`` seconds passed first.
        """
        check_timeout(timeout)
        try:
            self._start_load().result(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"model {self.model_name!r} not ready after {timeout} s") from None

    async def ready(self) -> None:
        """Wait, without blocking the event loop, until the model is loaded; raises what loading raised."""
        await asyncio.wrap_future(self._start_load())

    @property
    def is_ready(self) -> bool:
        """Whether the model has loaded successfully (never blocks)."""
        f = self._future
        return f is not None and f.done() and f.exception() is None

    @property
    def device(self) -> str | None:
        """The device the model runs on, once loaded; None before."""
        return self._future.result().device if self.is_ready else None

    def _loaded(self) -> tuple[LoadedModel, float]:
        waited = time.perf_counter()
        future = self._start_load()
        loaded = future.result()
        return loaded, time.perf_counter() - waited

    # ------------------------------------------------------------------ transcription

    def transcribe(self, audio, *, language: str | None = None, prompt: str | None = None,
                   speed: str = "accurate", word_timestamps: bool = False,
                   translate: bool = False, temperature: float = 0.0,
                   beam_size: int | None = None,
                   sample_rate: int | None = None,
                   should_abort: Callable[[], bool] | None = None,
                   on_segment: Callable[[Segment], None] | None = None,
                   on_candidate: Callable[[str], None] | None = None,
                   vad=False) -> Transcript:
        """Transcribe audio.

        Parameters
        ----------
        audio : path, bytes, binary file object or numpy.ndarray
            Files are decoded and resampled to 16 kHz mono; an array goes
            through the audio gateway (:func:`lumina.audio.convert.to_mono`:
            any float or integer dtype, mono or ``[frames, channels]``, at
            ``sample_rate``).
        language : str, optional
            Language code (``"en"``, ``"de"``...) or ``"auto"``; default
            English for English-only models, detection for multilingual ones.
        prompt : str, optional
            Text that conditions the decoder (names, spelling, style).
        speed : {"accurate", "fast"}, default "accurate"
            See the module documentation.
        word_timestamps : bool, default False
            Per-token times in ``Token.start`` / ``Token.end`` (whisper.cpp's, with
            each word's edges moved out of silence onto its sound:
            :mod:`lumina.asr.word_times`).
        translate : bool, default False
            Write English whatever the spoken language (whisper's translate
            task; ``language`` then names the spoken one). English-only
            models always write English and ignore it.
        temperature : float, default 0.0
            whisper.cpp's first decoding temperature, 0 to 1: 0 decodes
            greedily; higher values sample (``best_of`` candidates). Either
            way an unsure decode is retried at higher temperatures.
        beam_size : int, optional
            Beams of whisper.cpp's beam search (1: greedy). Default: the
            speed's (:data:`lumina.asr.speed.DEFAULT_BEAM_SIZE`).
        sample_rate : int, optional
            Rate of an array ``audio`` in Hz; default 16000.  Files carry their own.
        should_abort : callable, optional
            Polled between decoding steps; returning True stops the call with
            :class:`~lumina.errors.TranscriptionAborted`.
        on_segment : callable, optional
            Called with each :class:`Segment` of the result, in order, once,
            before this method returns: during the decode as soon as
            whisper.cpp finishes the segment (on the decoding thread), and at
            the end for segments that were not decoded live (a cache answer,
            a ``speed="fast"`` result, which is checked first). An exception
            it raises is raised here after the decode (no later segment is
            passed on).
        on_candidate : callable, optional
            Called with the text of a fuzzy phrase-cache match just before the
            model verifies it (on the thread running the call), so a caller can
            show it provisionally; the returned transcript is what counts.
        vad : bool or {"silero", "energy", "webrtc"}, default False
            Decode only the speech a voice activity detector finds (True:
            Silero), as :meth:`transcribe_iter` does; times stay those of the
            input, and audio without speech gives an empty transcript with a
            ``reason``. It consults no phrase cache, so it is refused on an
            engine made with ``cache=`` and with ``on_candidate``.

        Returns
        -------
        Transcript
            ``origin`` says what answered: the model, an exact cache hit or a
            cache match the model confirmed.

        Raises
        ------
        AudioFormatError
            Undecodable audio, an unusable array or rate, or NaN/Inf samples.
        ArgumentError
            An unknown ``speed`` or ``language``, an argument of the wrong type,
            or ``vad`` with a phrase cache or ``on_candidate``.
        TranscriptionAborted
            ``should_abort`` returned True.
        StateError
            The engine is closed.
        ModelNotFoundError, ModelIntegrityError, BackendError, DeviceError
            The model could not be loaded.
        """
        if vad is not False and vad is not None:
            check_decoding(translate, temperature, on_segment, on_candidate, beam_size)
            check_vad_call(self.cache, on_candidate)
            return self.transcribe_iter(
                audio, vad=vad, language=language, prompt=prompt, speed=speed,
                word_timestamps=word_timestamps, translate=translate, temperature=temperature,
                beam_size=beam_size, sample_rate=sample_rate,
                should_abort=should_abort)[0].transcript(on_segment)
        started = time.perf_counter()
        check_speed(speed)
        check_call(language, prompt, should_abort)
        check_decoding(translate, temperature, on_segment, on_candidate, beam_size)
        beam_size = beam_size_for(speed, beam_size)
        samples = load_samples(audio, sample_rate, what="Engine.transcribe()")
        audio_s = time.perf_counter() - started
        loaded, load_s = self._loaded()
        language = language or default_language(loaded.model)
        key = (loaded.identity, language, prompt, speed, word_timestamps, translate, temperature,
               beam_size)
        snapper = SoundSnapper(samples) if word_timestamps else None
        relay = None if on_segment is None else SegmentRelay(
            on_segment, loaded.model.is_special, len(samples) / SAMPLE_RATE,
            None if snapper is None else snapper.segment)
        found = (too_short(len(samples), language) if len(samples) < MIN_SAMPLES
                 else consult_or_answer(self.cache, samples, key, language, speed))
        if isinstance(found, Transcript):
            if relay is not None:
                relay.finish(found)
            return with_timings(found, load_s, audio_s, 0.0, 0.0, started, model=self.model_name)
        options = DecodeOptions(n_threads=self.threads, language=language, prompt=prompt,
                                token_timestamps=word_timestamps, translate=translate,
                                temperature=float(temperature), beam_size=beam_size)
        transcript, runs = decode_or_confirm(
            loaded.model, loaded.device, samples, options, speed, found, should_abort, on_candidate,
            lambda *run: self._run(*run, relay=relay))
        if snapper is not None and transcript.origin == "model":
            transcript = dataclasses.replace(transcript, segments=snapper.segments(transcript.segments))
        if relay is not None:
            relay.finish(transcript)
        if transcript.origin == "model":
            remember(self.cache, found, samples, key, transcript.text)
        return with_timings(transcript, load_s, audio_s, sum(r.encode_s + r.mel_s for r in runs),
                             sum(r.decode_s for r in runs), started, model=self.model_name)

    def _run(self, model: WhisperDecoder, samples: np.ndarray, options: DecodeOptions, speed: str,
             should_abort: Callable[[], bool] | None, *,
             relay: SegmentRelay | None = None) -> tuple[RunResult, str]:
        result, used = self._run_speed(model, samples, options, speed, should_abort, relay)
        if options.beam_size > 1 and heard_only_sound(result.segments, model.is_special,
                                                      len(samples) / SAMPLE_RATE):
            # Beams bracket some short answers ("[Sure]"), which the speech filter must drop as
            # sound; the greedy path decides (on real non-speech it writes an annotation too).
            # Nothing of the beam decode reached the relay: every segment of it was dropped.
            greedy = dataclasses.replace(options, beam_size=1)
            result, used = self._run_speed(model, samples, greedy, speed, should_abort, relay)
        return result, used

    def _run_speed(self, model: WhisperDecoder, samples: np.ndarray, options: DecodeOptions,
                   speed: str, should_abort: Callable[[], bool] | None,
                   relay: SegmentRelay | None) -> tuple[RunResult, str]:
        """One decode at ``speed``: a fast decode checked, else the full window."""
        fast = fast_options(options, len(samples), model.n_audio_ctx) if speed == "fast" else None
        if fast is not None:  # not live: a suspect fast result is thrown away
            result = _checked(model.run(samples, fast[0], should_abort))
            if not fast_result_suspect(result, model, fast[1]):
                return result, "fast"
        live = relay.live if relay is not None else None
        return _checked(model.run(samples, full_window_options(options, speed), should_abort, live)), "accurate"

    def transcribe_samples(self, samples: np.ndarray, options: TranscribeOptions, *,
                           should_abort: Callable[[], bool] | None = None,
                           on_segment: Callable[[Segment], None] | None = None,
                           on_candidate: Callable[[str], None] | None = None) -> Transcript:
        """:meth:`transcribe` of float32 mono 16 kHz samples with ``options`` as one value.

        The call of the engine protocol (:class:`~lumina.asr.protocol.SpeechEngine`)
        that streams, the server and the Ray workers make; every field of
        ``options`` is passed on as the keyword of the same name.

        Raises
        ------
        ArgumentError
            ``options`` is not a :class:`~lumina.asr.protocol.TranscribeOptions`;
            and what :meth:`transcribe` raises.
        """
        if not isinstance(options, TranscribeOptions):
            raise ArgumentError(f"options must be a lumina.TranscribeOptions, not "
                                f"{type(options).__name__}")
        return self.transcribe(samples, should_abort=should_abort, on_segment=on_segment,
                               on_candidate=on_candidate, **options.keywords())

    transcribe_iter = _long_form.transcribe_iter

    def _decode_window(self, samples: np.ndarray, *, language: str | None, prompt: str | None,
                       speed: str, word_timestamps: bool, translate: bool, temperature: float,
                       beam_size: int | None, should_abort: Callable[[], bool] | None,
                       threads: int | None = None) -> Transcript:
        """One decode of at most 30 s for :mod:`lumina.asr.long_form`: times in window seconds;
        ``threads`` (default the engine's) when windows decode side by side."""
        started = time.perf_counter()
        loaded, load_s = self._loaded()
        options = DecodeOptions(n_threads=threads or self.threads, language=self._language_for(language),
                                prompt=prompt, token_timestamps=word_timestamps,
                                translate=translate, temperature=float(temperature),
                                beam_size=beam_size_for(speed, beam_size))
        result, used = self._run(loaded.model, samples, options, speed, should_abort)
        t = from_run(result, loaded.model.is_special, loaded.device, used, len(samples) / SAMPLE_RATE)
        if word_timestamps:
            t = dataclasses.replace(t, segments=snap_to_sound(t.segments, samples))
        return with_timings(t, load_s, 0.0, result.encode_s + result.mel_s, result.decode_s, started,
                            model=self.model_name)

    def _language_for(self, language: str | None) -> str:
        """``language``, or the model's default (waits for the model)."""
        return language or default_language(self._loaded()[0].model)

    async def transcribe_async(self, audio, **options) -> Transcript:
        """:meth:`transcribe` in a worker thread; the event loop never waits on loading or inference.

        Cancelling the awaiting task stops the inference at its next decoding
        step, and the task sees :class:`asyncio.CancelledError` (a
        ``should_abort`` passed here that returns True raises
        :class:`~lumina.errors.TranscriptionAborted`, as in :meth:`transcribe`).
        """
        cancelled = threading.Event()
        user_abort = options.pop("should_abort", None)

        def should_abort() -> bool:
            return cancelled.is_set() or (user_abort is not None and user_abort())

        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(self._executor, lambda: self.transcribe(
            audio, should_abort=should_abort, **options))
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            cancelled.set()
            # The worker ends with TranscriptionAborted, which nobody awaits any more.
            job.add_done_callback(lambda f: f.cancelled() or f.exception())
            raise

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Free the model after calls in progress finish. Further calls raise :class:`~lumina.errors.StateError`."""
        with self._load_lock:
            self._closed = True
            future = self._future
        self._executor.shutdown(wait=True)
        if future is None or future.cancelled() or future.exception() is not None:
            return  # nothing was loaded, so nothing to free
        future.result().model.close()  # errors freeing the model are the caller's to see

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "ready" if self.is_ready else ("closed" if self._closed else "loading")
        more = f", concurrency={self.concurrency}" if self.concurrency > 1 else ""
        return f"Engine({self.model_name!r}, threads={self.threads}{more}, {state})"


# ---------------------------------------------------------------------- helpers

def _checked(result: RunResult) -> RunResult:
    if result.aborted:
        raise TranscriptionAborted("the transcription was stopped by should_abort")
    return result
