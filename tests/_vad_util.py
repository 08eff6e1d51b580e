"""Signals for the VAD, segmenter and source tests: espeak-ng speech, noise, sox measurements."""

from __future__ import annotations

import pathlib
import subprocess

import numpy as np
import soundfile as sf

SR = 16000
# sox's silence effect treats audio below this level as silence when it trims.
SOX_SILENCE = "-40d"


def speak(text: str, path: pathlib.Path) -> np.ndarray:
    """Speak ``text`` with espeak-ng; return it as float32 16 kHz with edge silence trimmed by sox."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True, capture_output=True)
    subprocess.run(
        ["sox", str(raw), "-r", str(SR), "-b", "16", str(path),
         "silence", "1", "0.02", SOX_SILENCE, "reverse",
         "silence", "1", "0.02", SOX_SILENCE, "reverse"],
        check=True, capture_output=True)
    audio, rate = sf.read(path, dtype="float32")
    assert rate == SR
    return audio


def write_wav(path: pathlib.Path, audio: np.ndarray) -> pathlib.Path:
    sf.write(path, audio, SR, subtype="PCM_16")
    return path


def sox_edges(path: pathlib.Path, tmp: pathlib.Path) -> tuple[int, int]:
    """(first, last) non-silent sample of a file as sox's silence effect measures them."""
    total = sf.info(path).frames
    lead = tmp / "sox_lead.wav"
    both = tmp / "sox_both.wav"
    subprocess.run(["sox", str(path), str(lead), "silence", "1", "0.02", SOX_SILENCE],
                   check=True, capture_output=True)
    subprocess.run(["sox", str(path), str(both), "silence", "1", "0.02", SOX_SILENCE,
                    "reverse", "silence", "1", "0.02", SOX_SILENCE, "reverse"],
                   check=True, capture_output=True)
    first = total - sf.info(lead).frames
    return first, first + sf.info(both).frames


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SR), dtype=np.float32)


def at_dbfs(x: np.ndarray, dbfs: float) -> np.ndarray:
    """Scale ``x`` so its mean-square level is ``dbfs``."""
    return (x / np.sqrt(np.mean(x * x)) * 10 ** (dbfs / 20)).astype(np.float32)


def white_noise(seconds: float, dbfs: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return at_dbfs(rng.standard_normal(round(seconds * SR)), dbfs)


def pink_noise(seconds: float, dbfs: float, seed: int = 0) -> np.ndarray:
    """1/f noise from 20 Hz up (a microphone chain's high-pass removes what is below)."""
    rng = np.random.default_rng(seed)
    n = round(seconds * SR)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SR)
    gain = np.where(freqs >= 20, 1 / np.sqrt(np.maximum(freqs, 1)), 0)
    return at_dbfs(np.fft.irfft(spectrum * gain, n), dbfs)


def events_summary(events) -> list[tuple]:
    """Events as comparable tuples: ("start", id, start) / ("end", id, start, end, len(audio))."""
    out = []
    for ev in events:
        if hasattr(ev, "audio"):
            out.append(("end", ev.utterance_id, ev.start_sample, ev.end_sample, len(ev.audio)))
        else:
            out.append(("start", ev.utterance_id, ev.start_sample))
    return out


def stop_while_consuming(source) -> list[int]:
    """Iterate ``source`` in a thread, call ``stop()`` from here after its first chunk.

    Returns the chunk lengths the thread saw; asserts the thread ended after stop().
    """
    import threading

    got: list[int] = []
    first = threading.Event()

    def consume() -> None:
        for chunk in source:
            got.append(len(chunk))
            first.set()

    worker = threading.Thread(target=consume)
    worker.start()
    assert first.wait(timeout=10), "no chunk arrived within 10 s"
    source.stop()
    worker.join(timeout=10)
    assert not worker.is_alive(), "the consumer thread did not end after stop()"
    return got
