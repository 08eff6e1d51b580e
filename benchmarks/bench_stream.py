"""asv: streaming transcription (lumina.Stream) vs the naive pywhispercpp loop.

Both get the same 6 s clip (1 s silence, two espeak-ng utterances, silence) in
20 ms chunks, as fast as they can take it, on a random-weight ``tiny.en``-shaped
model (CI's profile: the few-MB ``micro`` one) with 2 threads; both produce
partial text every 250 ms of audio. lumina
decodes only the utterances the VAD finds (fast path for partials, one
accurate final each), in lockstep: ``lumina`` with the eager end of utterance
(a complete partial at every pause; the final, decoded once, when the hang-over
confirms it), ``lumina-classic`` with ``eager=False``. The naive loop
transcribes the growing buffer every step. The real-time-pace latencies are
measured by ``compare_stream.py``.
"""

import pathlib
import shutil
import subprocess
import tempfile

import numpy as np

from lumina import Engine, HangoverPolicy, Stream, StreamOptions

from benchmarks._helpers import model_path
from benchmarks._helpers import by_profile

SR = 16000
MODEL = by_profile("tiny.en", ci="micro")
CHUNK = 320
STEP = 0.25


def _clip(tmp):
    parts = [np.zeros(SR, np.float32)]
    for i, text in enumerate(["Open the pod bay doors please", "Turn on the kitchen lights"]):
        wav = tmp / f"{i}.wav"
        subprocess.run(["espeak-ng", "-w", str(wav), text], check=True, capture_output=True)
        import soundfile as sf
        import soxr
        x, rate = sf.read(wav, dtype="float32")
        parts += [soxr.resample(x, rate, SR).astype(np.float32), np.zeros(SR, np.float32)]
    return np.concatenate(parts)


class StreamVsNaive:
    params = (["lumina", "lumina-classic", "naive"],)
    param_names = ["impl"]
    timeout = 300
    number = 1
    repeat = 3

    def setup(self, impl):
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="lumina-asv-stream-"))
        self.path = model_path(MODEL)
        self.audio = _clip(self.tmp)
        self.chunks = [self.audio[i:i + CHUNK] for i in range(0, len(self.audio), CHUNK)]
        if impl.startswith("lumina"):
            self.engine = Engine(self.path, threads=2)
            self.engine.wait_ready()
        else:
            from pywhispercpp.model import Model
            self.model = Model(str(self.path), n_threads=2, print_progress=False,
                               print_realtime=False, redirect_whispercpp_logs_to=None)

    def teardown(self, impl):
        if impl.startswith("lumina"):
            self.engine.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _run(self, impl):
        if impl.startswith("lumina"):
            eager = impl == "lumina"      # else the previous schedule, with its fixed hang-over
            options = StreamOptions(lockstep=True, eager=eager,
                                    hangover=HangoverPolicy() if eager else None)
            for _ in Stream(self.engine, source=self.chunks, options=options):
                pass
            return
        buffer = []
        for i, chunk in enumerate(self.chunks, 1):
            buffer.append(chunk)
            if i % round(STEP * SR / CHUNK) == 0:
                self.model.transcribe(np.concatenate(buffer))

    def time_six_seconds_of_audio(self, impl):
        self._run(impl)

    def track_real_time_factor(self, impl):
        import time
        t0 = time.perf_counter()
        self._run(impl)
        return (time.perf_counter() - t0) / (len(self.audio) / SR)

    track_real_time_factor.unit = "x audio time"

    def peakmem_six_seconds_of_audio(self, impl):
        self._run(impl)
