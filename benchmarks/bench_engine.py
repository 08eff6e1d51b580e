"""asv: the engine against plain pywhispercpp on random-weight models of the real shapes.

Each timing has its baseline in the same suite: ``Transcribe`` times lumina's
accurate and fast modes and pywhispercpp's ``Model.transcribe`` on the same audio.
"""

import time

from lumina.testing import speechlike
from benchmarks._helpers import max_loop_stall, model_path
from benchmarks._helpers import by_profile

THREADS = 2


class Startup:
    params = by_profile(["tiny.en", "base.en"], ci=["tiny.en"])
    param_names = ["model"]
    timeout = 300

    def setup(self, arch):
        self.path = model_path(arch)

    def track_constructor_ms(self, arch):
        import lumina

        start = time.perf_counter()
        engine = lumina.Engine(self.path, threads=THREADS)
        elapsed = time.perf_counter() - start
        engine.close()
        return elapsed * 1000

    track_constructor_ms.unit = "ms"

    def time_until_ready(self, arch):
        import lumina

        engine = lumina.Engine(self.path, threads=THREADS)
        engine.wait_ready()
        engine.close()

    def time_pywhispercpp_load(self, arch):
        from pywhispercpp.model import Model

        Model(str(self.path), n_threads=THREADS, print_progress=False)


class Transcribe:
    params = by_profile((["tiny.en", "base.en"], [1, 2, 5, 10], ["accurate", "fast", "pywhispercpp"]),
                        ci=(["tiny.en"], [1, 5], ["accurate", "fast", "pywhispercpp"]))
    param_names = ["model", "seconds", "path"]
    timeout = 600
    number = 1
    repeat = 5

    def setup(self, arch, seconds, how):
        self.audio = speechlike(seconds)
        if how == "pywhispercpp":
            from pywhispercpp.model import Model

            model = Model(str(model_path(arch)), n_threads=THREADS, print_progress=False)
            self.run = lambda: model.transcribe(self.audio)
        else:
            import lumina

            self.engine = lumina.Engine(model_path(arch), threads=THREADS)
            self.engine.wait_ready()
            self.run = lambda: self.engine.transcribe(self.audio, speed=how)
        self.run()  # steady state: first call done

    def teardown(self, arch, seconds, how):
        if how != "pywhispercpp":
            self.engine.close()

    def time_transcribe(self, arch, seconds, how):
        self.run()


class FirstCall:
    """The first transcription after ready, to compare with Transcribe's steady state."""

    params = ["tiny.en"]
    param_names = ["model"]
    number = 1
    repeat = 3
    timeout = 300

    def setup(self, arch):
        import lumina

        self.engine = lumina.Engine(model_path(arch), threads=THREADS)
        self.engine.wait_ready()
        self.audio = speechlike(2)

    def teardown(self, arch):
        self.engine.close()

    def time_first_transcription(self, arch):
        self.engine.transcribe(self.audio)


class EventLoop:
    params = ["tiny.en"]
    param_names = ["model"]
    timeout = 300

    def track_max_stall_ms(self, arch):
        return max_loop_stall(model_path(arch), seconds=(2,)) * 1000

    track_max_stall_ms.unit = "ms"


class Memory:
    params = by_profile((["tiny.en", "base.en"], ["f16", "q8_0"]), ci=(["tiny.en"], ["f16"]))
    param_names = ["model", "ftype"]
    timeout = 300

    def setup(self, arch, ftype):
        self.path = model_path(arch, ftype)

    def peakmem_load_and_transcribe(self, arch, ftype):
        import lumina

        with lumina.Engine(self.path, threads=THREADS) as engine:
            engine.transcribe(speechlike(5))
