"""Audio sources: iterators of float32 mono 16 kHz chunks from a microphone, a file or an iterable.

Every source is an iterator and a context manager.  :meth:`AudioSource.stop` may be
called from any thread; the iteration then ends promptly (within one wait of a few
milliseconds) and the source leaves no thread behind.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator

import numpy as np

from lumina.audio.convert import SAMPLE_RATE, ChunkConverter, check_sample_rate
from lumina.audio.files import load_audio
from lumina.errors import ArgumentError, DeviceError

__all__ = ["AudioSource", "MicrophoneSource", "FileSource", "IterableSource"]

"""Deprecated name of :data:`lumina.audio.convert.SAMPLE_RATE` (``lumina.SAMPLE_RATE``), the
rate of every chunk a source yields; goes in the next release."""


class AudioSource:
    """Base of the sources: iteration, ``stop()``, ``close()`` and the context manager.

    Attributes
    ----------
    reuse_chunks : bool
        False (default): every chunk is a new array the caller may keep. A
        source that supports it yields, when this is set True before iterating,
        views of one buffer allocated once, each valid until the next chunk is
        read, so reading allocates no sample buffer (what
        :class:`~lumina.Stream` asks of the sources it opens).
    """

    reuse_chunks = False

    def __init__(self) -> None:
        self._stopped = threading.Event()

    def __iter__(self) -> Iterator[np.ndarray]:
        return self

    def __next__(self) -> np.ndarray:
        if self._stopped.is_set():
            raise StopIteration
        chunk = self._next_chunk()
        if chunk is None:
            raise StopIteration
        return chunk

    def _next_chunk(self) -> np.ndarray | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def stop(self) -> None:
        """End the iteration promptly; safe to call from any thread, more than once."""
        self._stopped.set()

    def close(self) -> None:
        """Stop and release what the source holds (a device stream, a file's samples)."""
        self.stop()
        self._release()

    def _release(self) -> None:
        """Free resources; called once stopped (subclasses override)."""

    @property
    def stopped(self) -> bool:
        """True once :meth:`stop` or :meth:`close` was called."""
        return self._stopped.is_set()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class IterableSource(AudioSource):
    """Chunks from any iterable of arrays, converted by the audio gateway.

    Parameters
    ----------
    iterable : iterable of array_like
        The chunks, of any length: any float or integer dtype, mono or
        ``[frames, channels]`` (:mod:`lumina.audio.convert`).
    sample_rate : int, default 16000
        Their rate in Hz; other rates are resampled to 16 kHz (soxr, streaming).

    Raises
    ------
    AudioFormatError
        A bad ``sample_rate`` (at once) or an unusable chunk (when it is reached).
    """

    def __init__(self, iterable: Iterable, sample_rate: int = SAMPLE_RATE) -> None:
        super().__init__()
        self._convert = ChunkConverter(sample_rate, what="IterableSource")
        self.sample_rate = self._convert.sample_rate
        try:
            self._it = iter(iterable)
        except TypeError:
            raise ArgumentError(f"IterableSource needs an iterable of arrays, not "
                                f"{type(iterable).__name__}") from None
        self._done = False

    def _next_chunk(self) -> np.ndarray | None:
        while not self._done and not self._stopped.is_set():
            try:
                raw = next(self._it)
            except StopIteration:
                self._done = True
                tail = self._convert.flush()
                return tail if len(tail) else None
            out = self._convert(raw)
            if len(out):
                return out
        return None


def _load_file(path: str | os.PathLike) -> np.ndarray:
    """Decode a file to float32 mono 16 kHz (load_audio applies the gateway's rules)."""
    return load_audio(path, SAMPLE_RATE)


class FileSource(AudioSource):
    """Chunks of an audio file, by default at real-time pace (like a microphone).

    Parameters
    ----------
    path : str or os.PathLike
        Any file lumina can decode; it is converted to float32 mono 16 kHz.
    realtime : bool, default True
        Yield chunk ``k`` no earlier than ``(k + 1) * chunk_ms`` after the first,
        as a live microphone would; False yields as fast as the caller reads.
    chunk_ms : int, default 20
        Chunk length (the last chunk may be shorter).
    """

    def __init__(self, path: str | os.PathLike, *, realtime: bool = True, chunk_ms: int = 20) -> None:
        super().__init__()
        if isinstance(chunk_ms, bool) or not isinstance(chunk_ms, int) or chunk_ms <= 0:
            raise ArgumentError(f"chunk_ms must be an int > 0, got {chunk_ms!r}")
        self.path = path
        self.realtime = realtime
        self.chunk_samples = max(1, chunk_ms * SAMPLE_RATE // 1000)
        self._audio = _load_file(path)
        self._pos = 0
        self._t0: float | None = None

    @property
    def duration_s(self) -> float:
        """Length of the file in seconds."""
        return len(self._audio) / SAMPLE_RATE

    def _next_chunk(self) -> np.ndarray | None:
        if self._pos >= len(self._audio):
            return None
        end = min(self._pos + self.chunk_samples, len(self._audio))
        if self.realtime:
            if self._t0 is None:
                self._t0 = time.monotonic()
            due = self._t0 + end / SAMPLE_RATE
            # Waiting on the stop event (not sleeping) lets stop() end the wait at once.
            if self._stopped.wait(max(0.0, due - time.monotonic())):
                return None
        chunk = self._audio[self._pos:end]
        self._pos = end
        return chunk

    def _release(self) -> None:
        self._audio = np.zeros(0, np.float32)


def list_input_devices() -> list[dict]:
    """The audio input devices PortAudio sees: dicts with index, name, channels and rate."""
    import sounddevice as sd
    return [
        {"index": dev["index"], "name": dev["name"], "channels": dev["max_input_channels"],
         "default_samplerate": dev["default_samplerate"]}
        for dev in sd.query_devices() if dev["max_input_channels"] > 0]


def _describe(devices: list[dict]) -> str:
    if not devices:
        return "no input devices are available (is a sound server or card present?)"
    return "available input devices: " + "; ".join(
        f"{d['index']}: {d['name']!r}" for d in devices)


def find_input_device(device: int | str | None) -> dict:
    """Resolve ``device`` (None = default, an index, or a name substring) to an input device.

    Raises
    ------
    DeviceError
        When no input device matches; the message lists the available ones.
    """
    import sounddevice as sd
    inputs = list_input_devices()
    if device is None:
        index = sd.default.device[0]
        if index is None or index < 0:
            index = next((d["index"] for d in inputs if d["name"] == "default"), -1)
        matches = [d for d in inputs if d["index"] == index]
        what = "default input device"
    elif isinstance(device, (int, np.integer)) and not isinstance(device, bool):
        matches = [d for d in inputs if d["index"] == int(device)]
        what = f"input device with index {int(device)}"
    elif isinstance(device, str):
        needle = device.lower()
        exact = [d for d in inputs if d["name"].lower() == needle]
        matches = exact or [d for d in inputs if needle in d["name"].lower()]
        what = f"input device whose name contains {device!r}"
    else:
        raise ArgumentError(f"device must be None, an int or a str, got {type(device).__name__}")
    if not matches:
        raise DeviceError(f"found no {what}; {_describe(inputs)}")
    return matches[0]


class MicrophoneSource(AudioSource):
    """Chunks captured live from an input device (sounddevice / PortAudio).

    The PortAudio callback only copies each block into a lock-free ring buffer;
    the iterating thread reads the ring, resamples to 16 kHz and yields.

    Parameters
    ----------
    device : None, int or str, default None
        The default input, a device index, or a (case-insensitive) name substring.
    sample_rate : int or None, default None
        Capture rate in Hz; None uses the device's native rate.  Chunks are
        resampled to 16 kHz either way.
    block_ms : int, default 20
        PortAudio block length, and roughly the chunk length yielded.
    ring_seconds : float, default 2.0
        Audio the ring holds when the reader falls behind; older audio is then
        overwritten (counted in :attr:`dropped`).

    Raises
    ------
    DeviceError
        When the device is not found or cannot be opened.
    """

    def __init__(self, device: int | str | None = None, *, sample_rate: int | None = None,
                 block_ms: int = 20, ring_seconds: float = 2.0) -> None:
        super().__init__()
        import sounddevice as sd
        from lumina._core.ringbuffer import RingBuffer
        if block_ms <= 0:
            raise ArgumentError(f"block_ms must be > 0, got {block_ms}")
        self._request = (device, {"sample_rate": sample_rate, "block_ms": block_ms,
                                  "ring_seconds": ring_seconds})
        info = find_input_device(device)
        self.device_name: str = info["name"]
        self.sample_rate = (int(info["default_samplerate"]) if sample_rate is None
                            else check_sample_rate(sample_rate, what="MicrophoneSource"))
        self.block_frames = max(1, self.sample_rate * block_ms // 1000)
        if ring_seconds * self.sample_rate < 2 * self.block_frames:
            raise ArgumentError(f"ring_seconds must hold at least two blocks, got {ring_seconds}")
        self._ring = RingBuffer(int(ring_seconds * self.sample_rate), overwrite=True)
        self._overflows = 0
        self._poll_s = block_ms / 2000.0
        self._resample = ChunkConverter(self.sample_rate, what="MicrophoneSource")
        self._close_lock = threading.Lock()
        self._out: np.ndarray | None = None
        try:
            self._stream = sd.InputStream(
                device=info["index"], channels=1, samplerate=self.sample_rate, dtype="float32",
                blocksize=self.block_frames, callback=self._callback)
        except (sd.PortAudioError, ValueError) as exc:
            raise DeviceError(
                f"cannot open input device {self.device_name!r} at {self.sample_rate} Hz: {exc}; "
                "try another sample rate or device") from exc
        self._started = False

    def reopen(self) -> MicrophoneSource:
        """A new source for the device this one was asked for, with its settings (after a loss).

        Raises
        ------
        DeviceError
            The device is (still) not there or cannot be opened.
        """
        device, options = self._request
        return MicrophoneSource(device, **options)

    def _callback(self, indata, frames, time_info, status) -> None:
        # Real-time thread: copy into the ring and count overflows; nothing else.
        if status.input_overflow:
            self._overflows += 1
        self._ring.write(indata[:, 0])

    def start(self) -> None:
        """Start capturing (iteration starts it too)."""
        with self._close_lock:
            if not self._started and self._stream is not None:
                self._started = True
                self._stream.start()

    def _next_chunk(self) -> np.ndarray | None:
        self.start()
        while not self._stopped.is_set():
            available = len(self._ring)
            if available >= self.block_frames:
                out = self._resample(self._read())
                if len(out):
                    return out
                continue
            stream = self._stream  # stop() from another thread may clear it
            if stream is None:
                return None
            if not stream.active:
                raise DeviceError(f"input device {self.device_name!r} stopped delivering audio")
            # A plain sleep: Event.wait() allocates a lock per call, and stop() is seen
            # within one poll (half a block) anyway.
            time.sleep(self._poll_s)
        return None

    def _read(self) -> np.ndarray:
        """Everything the ring holds: a new array, or a view of one reused buffer (``reuse_chunks``)."""
        if not self.reuse_chunks:
            return self._ring.read(len(self._ring))
        if self._out is None:
            self._out = np.empty(self._ring.capacity, dtype=np.float32)
        return self._out[:self._ring.read_into(self._out)]

    def stop(self) -> None:
        """Stop capturing and close the device stream: the iteration ends promptly.

        Safe from any thread and idempotent; PortAudio's callback thread is gone
        when this returns.
        """
        self._stopped.set()
        with self._close_lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            stream.abort(ignore_errors=True)
            stream.close(ignore_errors=True)

    @property
    def overflows(self) -> int:
        """Blocks PortAudio reported as overflowed (audio lost before it reached lumina)."""
        return self._overflows

    @property
    def dropped(self) -> int:
        """Audio overwritten in the ring because the reader fell behind, in 16 kHz samples.

        The ring holds capture-rate samples; the count is converted so that
        ``dropped / 16000`` is seconds lost whatever the device's rate (like
        every other sample count lumina reports).
        """
        return self._ring.dropped * SAMPLE_RATE // self.sample_rate
