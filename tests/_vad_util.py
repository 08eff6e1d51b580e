"""Helpers of the VAD, segmenter and source tests (their signals: lumina.evaluation.utterances)."""

from __future__ import annotations

import pathlib

import numpy as np
import soundfile as sf

SR = 16000
def write_wav(path: pathlib.Path, audio: np.ndarray) -> pathlib.Path:
    sf.write(path, audio, SR, subtype="PCM_16")
    return path


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
