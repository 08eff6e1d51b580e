"""A source fed by the program itself: chunks pushed from any thread, read by one consumer.

:class:`PushSource` is what ``Stream.feed()`` writes to. Producers call
:meth:`PushSource.write` (any thread, never blocks on the reader); the
reader iterates the source like any other :class:`~lumina.audio.sources.AudioSource`.
Between them sits a lock-free ring buffer of ``seconds`` of audio: when the
reader falls behind, the oldest unread samples are overwritten and counted in
:attr:`PushSource.dropped`.
"""

from __future__ import annotations

import threading

import numpy as np

from lumina.audio.convert import SAMPLE_RATE, ChunkConverter, check_sample_rate
from lumina.audio.sources import AudioSource
from lumina.errors import StateError

__all__ = ["PushSource"]

_POLL_S = 0.05        # the longest a waiting reader sleeps before looking at the stop flag


class PushSource(AudioSource):
    """Chunks pushed with :meth:`write` and ended with :meth:`end`.

    Parameters
    ----------
    seconds : float, default 10.0
        Audio the ring buffer holds while the reader is behind.
    what : str, default "PushSource.write()"
        How error messages name the input.
    reuse_chunks : bool, default False
        True yields views of one buffer allocated once, valid until the next
        chunk is read (what :class:`~lumina.Stream` uses: reading allocates
        no sample buffer); False yields a new array per chunk. See
        :attr:`lumina.audio.sources.AudioSource.reuse_chunks`.

    A chunk yielded holds every sample written since the previous one (up to
    ``seconds`` of them), as float32 mono at 16 kHz.
    """

    def __init__(self, seconds: float = 10.0, *, what: str = "PushSource.write()",
                 reuse_chunks: bool = False) -> None:
        super().__init__()
        from lumina._core.ringbuffer import RingBuffer
        if not seconds > 0:
            raise ValueError(f"seconds must be > 0, got {seconds}")
        self.what = what
        self._ring = RingBuffer(max(1, int(seconds * SAMPLE_RATE)), overwrite=True)
        self.reuse_chunks = reuse_chunks
        self._out: np.ndarray | None = None
        self._converters: dict[int, ChunkConverter] = {}
        self._rate = SAMPLE_RATE
        self._lock = threading.Lock()     # one producer at a time: the ring has one producer side
        # A plain lock used as a binary semaphore: held means "nothing new". Unlike an
        # Event (a Condition underneath) waiting on it allocates nothing.
        self._wake = threading.Lock()
        self._wake.acquire()
        self._ended = False

    def write(self, chunk, sample_rate: int = SAMPLE_RATE) -> None:
        """Push a chunk; safe from any thread; never waits for the reader.

        Parameters
        ----------
        chunk : array_like
            Samples: any dtype, shape and layout :func:`lumina.audio.convert.to_mono`
            accepts (float in [-1, 1] or integer PCM, mono or ``[frames, channels]``).
        sample_rate : int, default 16000
            Their rate; other rates are resampled to 16 kHz as a stream (the
            resampler keeps its state across chunks of one rate and is flushed
            when the rate changes).

        Raises
        ------
        AudioFormatError
            For a chunk that is not audio (nothing of it is written).
        StateError
            After :meth:`end` or :meth:`stop`.
        """
        # acquire/release rather than `with`: the context manager allocates on every call.
        self._lock.acquire()
        try:
            if self._ended:
                raise StateError(f"{self.what} after the input was closed (close_input(), end()) or "
                                 "stopped (stop()); start a new stream")
            samples = self._converter(check_sample_rate(sample_rate, what=self.what))(chunk)
            if len(samples):
                self._ring.write(samples)
                self._signal()
        finally:
            self._lock.release()

    def end(self) -> None:
        """No more input: the reader gets what is buffered, then the iteration ends."""
        with self._lock:
            if not self._ended:
                self._ended = True
                tail = self._converters[self._rate].flush() if self._rate in self._converters else None
                if tail is not None and len(tail):
                    self._ring.write(tail)
            self._signal()

    @property
    def ended(self) -> bool:
        """True once :meth:`end` or :meth:`stop` was called."""
        return self._ended

    def stop(self) -> None:
        super().stop()
        with self._lock:
            self._ended = True
            self._signal()

    @property
    def dropped(self) -> int:
        """Samples overwritten in the ring because the reader fell behind."""
        return self._ring.dropped

    def _converter(self, sample_rate: int) -> ChunkConverter:
        converter = self._converters.get(sample_rate)
        if converter is None:
            converter = ChunkConverter(sample_rate, what=self.what)  # checks the rate
            previous = self._converters.pop(self._rate, None)
            if previous is not None:   # the old rate's resampler tail belongs before the new audio
                tail = previous.flush()
                if len(tail):
                    self._ring.write(tail)
            self._converters[converter.sample_rate] = converter
            self._rate = converter.sample_rate
        return converter

    def _signal(self) -> None:
        """Wake the reader (called under ``self._lock``, so producers never race here)."""
        if self._wake.locked():
            self._wake.release()

    def _next_chunk(self) -> np.ndarray | None:
        while not self._stopped.is_set():
            ended = self._ended  # read before the length: writes before end() are then visible
            available = len(self._ring)
            if available:
                if not self.reuse_chunks:
                    return self._ring.read(available)
                if self._out is None:
                    self._out = np.empty(self._ring.capacity, dtype=np.float32)
                return self._out[:self._ring.read_into(self._out)]
            if ended:
                return None
            self._wake.acquire(True, _POLL_S)
        return None
