"""Measuring this machine once: the micro-benchmark behind :class:`~lumina.asr.choice.cost_model.CostModel`.

For each family (width) and storage type a candidate needs, the probe writes
three random-weight models of that width with :func:`lumina.testing.make_model`
(``lengths="realistic"``, so decodes run as many steps as speech does), with
(encoder, decoder) layers (1, 1), (2, 1) and (1, D), D the family's deepest
published decoder: the second adds one encoder block, the third the decoder
at full depth (whose steps are bound by memory traffic and do not scale from
one layer: :mod:`~lumina.asr.choice.cost_model`). They are written into a
temporary directory that is deleted afterwards; nothing is downloaded. It
times them through lumina's own backend, loaded as an :class:`~lumina.Engine`
loads a model (:func:`lumina.asr.model_pool.load_model`), one greedy pass per
call, at encoder contexts of 256, 512 and 1500 frames, the models taking
turns, in :data:`PROBE_ROUNDS` rounds, and keeps medians (:class:`BlockCost`).
Measured on two shared cores (load average 1.5 to 4), writing the models
included: 9-10 s per storage type for tiny, 14-17 s for base, 31-39 s for
small; an engine measures only the blocks its installed candidates need
(:func:`lumina.asr.choice.engine_choice.choose_for_engine`), smaller widths
first, and skips wider ones that cannot fit (:mod:`lumina.asr.choice.choose`).

The result is cached as JSON in the model store, ``<store>/cost-models/<key>.json``,
under a :class:`MachineKey`: the CPU model, the CPUs and threads used, the
device, pywhispercpp's version and whisper.cpp's build features, and lumina's
version. When any of them changes the key changes and the machine is measured
again; new families are measured when first needed and added to the file.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import logging
import os
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from lumina.asr.backend import DecodeOptions, compiled_gpu_backends, system_info
from lumina.asr.choice.cost_model import (CTX_POINTS, FAMILIES, BlockCost, CostModel, MachineKey)
from lumina.asr.device import choose_device
from lumina.asr.model_pool import load_model
from lumina.asr.threads import available_cpus
from lumina.models.download import file_lock
from lumina.models.store import ModelStore
from lumina.models.synthetic import ModelShape, make_model
from lumina.testing.signals import speechlike

__all__ = ["PROBE_POINTS", "PROBE_ROUNDS", "BlockProbe", "cost_path", "ensure_measured",
           "load_cost_model", "machine_key", "probe_block", "save_cost_model"]

_log = logging.getLogger("lumina.choice")

#: ``(encoder frames, seconds of audio)`` of the probe's calls: the audio fills its context;
#: two lengths at 256 frames separate a call's fixed decoder time from its time per step.
PROBE_POINTS = ((CTX_POINTS[0], 2.0), (CTX_POINTS[0], 4.0), (CTX_POINTS[1], 8.0), (CTX_POINTS[2], 8.0))
#: Rounds of :data:`PROBE_POINTS` per block: medians of three, so one call slowed by another
#: process does not move a point.
PROBE_ROUNDS = 3
_ENGLISH_VOCAB = 51864


# --------------------------------------------------------------------------- the key

def machine_key(threads: int, device: str = "auto") -> MachineKey:
    """The key of this machine, backend build and lumina version for ``threads`` and ``device``.

    ``device`` is an :class:`~lumina.Engine` device request; a GPU request
    that whisper.cpp can serve keys by the GPU backends it was built with.
    """
    plan = choose_device(device)
    return MachineKey(cpu=_cpu_name(), cpus=_cpu_list(), threads=int(threads),
                      device=_gpu_text() if plan.use_gpu else "cpu",
                      backend=f"pywhispercpp {_version('pywhispercpp')}; {system_info().strip()}",
                      lumina=_version("lumina"))


def _gpu_text() -> str:
    """``"gpu:cuda"`` plus the GPU's name where ``nvidia-smi`` tells it (one line per GPU)."""
    text = "gpu:" + "/".join(compiled_gpu_backends())
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return text
    names = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    return f"{text} ({'; '.join(names)})" if done.returncode == 0 and names else text


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _cpu_list() -> str:
    """The affinity mask as ranges (``"0-1"``), with the usable count when a quota lowers it."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return f"{available_cpus()} CPUs"
    ranges: list[list[int]] = []
    for cpu in cpus:
        if ranges and cpu == ranges[-1][1] + 1:
            ranges[-1][1] = cpu
        else:
            ranges.append([cpu, cpu])
    text = ",".join(f"{a}-{b}" if a != b else f"{a}" for a, b in ranges)
    usable = available_cpus()
    return text if usable == len(cpus) else f"{text} (quota {usable})"


# --------------------------------------------------------------------------- the cache

def cost_path(store: ModelStore, key: MachineKey) -> Path:
    """Where the cost model of ``key`` is kept in ``store``."""
    return store.root / "cost-models" / f"{key.digest()}.json"


def load_cost_model(store: ModelStore, key: MachineKey) -> CostModel | None:
    """The cached cost model of ``key``, or None when there is none (or it is unreadable or another key's)."""
    path = cost_path(store, key)
    try:
        model = CostModel.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return model if model.key == key else None


def save_cost_model(store: ModelStore, model: CostModel) -> Path:
    """Write ``model`` to its place in ``store`` (atomically) and return the path."""
    path = cost_path(store, model.key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(model.to_json(), indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def ensure_measured(store: ModelStore, key: MachineKey, needed: Iterable[str], *,
                    remeasure: bool = False,
                    progress: Callable[[str], None] | None = None) -> CostModel:
    """The cost model of ``key`` holding every block id in ``needed``; measures what is missing.

    Measured blocks are added to the cached file (under a lock, so two
    processes do not measure the same machine at once). ``remeasure``
    measures every needed block again.
    """
    needed = sorted(set(needed))
    cached = load_cost_model(store, key)
    if cached is not None and not remeasure and all(b in cached.blocks for b in needed):
        return cached
    path = cost_path(store, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path.with_name(path.name + ".lock")):
        cached = load_cost_model(store, key) or CostModel(key, {})
        missing = needed if remeasure else [b for b in needed if b not in cached.blocks]
        if not missing:
            return cached
        use_gpu = key.device != "cpu"
        blocks = {}
        with tempfile.TemporaryDirectory(prefix="lumina-probe-") as workdir:
            for block in missing:
                family, quant = block.split("/")
                if progress is not None:
                    progress(f"measuring {family} blocks in {quant} ({key.threads} threads, {key.device})")
                blocks[block] = probe_block(family, quant, threads=key.threads, use_gpu=use_gpu,
                                            workdir=Path(workdir))
                _log.info("measured %s in %.1f s", block, blocks[block].probe_seconds)
        model = cached.with_blocks(blocks, measured_at=_now(), load_average=_load_average())
        save_cost_model(store, model)
        return model


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


# --------------------------------------------------------------------------- the probe

class BlockProbe:
    """The three probe models of one family and storage type, written, loaded and warmed up.

    :meth:`round` times every point once on each model (the models taking
    turns; :meth:`point` one point); :meth:`fit` turns the runs so far into a
    :class:`BlockCost`. :func:`probe_block` runs :data:`PROBE_ROUNDS` rounds; a
    benchmark may interleave points with its own measurements so that both see
    the same load.
    """

    def __init__(self, family: str, quantization: str, *, threads: int, use_gpu: bool = False,
                 workdir: Path) -> None:
        started = time.perf_counter()
        self.depth = FAMILIES[family].n_text_layer
        self.threads = threads
        layouts = ((1, 1), (2, 1), (1, self.depth))
        self._paths = [_write_probe_model(workdir, family, quantization, *layout) for layout in layouts]
        self._models = []
        self.runs: list[list[tuple]] = [[] for _ in layouts]
        try:
            self._models = [load_model(p, use_gpu=use_gpu) for p in self._paths]  # as an Engine does
            for model in self._models:
                model.run(speechlike(1.0), _options(threads, CTX_POINTS[0]))  # warm up
        except BaseException:
            self.close()
            raise
        self.seconds = time.perf_counter() - started

    def round(self) -> None:
        """Time every point of :data:`PROBE_POINTS` once on each model."""
        for index in range(len(PROBE_POINTS)):
            self.point(index)

    def point(self, index: int) -> None:
        """Time point ``index`` of :data:`PROBE_POINTS` once on each model."""
        started = time.perf_counter()
        ctx, seconds = PROBE_POINTS[index]
        audio = speechlike(seconds)
        for runs, model in zip(self.runs, self._models):
            t0 = time.perf_counter()
            r = model.run(audio, _options(self.threads, ctx))
            total = time.perf_counter() - t0
            runs.append((ctx, seconds, r.decoder_steps, r.mel_s, r.encode_s, r.decode_s, total))
        self.seconds += time.perf_counter() - started

    def fit(self) -> BlockCost:
        """The block's costs from the rounds so far (at least one)."""
        return _fit(self.depth, self.runs, self.seconds)

    def close(self) -> None:
        """Free the models and delete their files."""
        for model in self._models:
            model.close()
        self._models = []
        for p in self._paths:
            p.unlink(missing_ok=True)

    def __enter__(self) -> BlockProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def probe_block(family: str, quantization: str, *, threads: int, use_gpu: bool = False,
                workdir: Path, rounds: int | None = None) -> BlockCost:
    """Measure one family's blocks in one storage type (see the module documentation)."""
    with BlockProbe(family, quantization, threads=threads, use_gpu=use_gpu, workdir=workdir) as probe:
        for _ in range(rounds or PROBE_ROUNDS):
            probe.round()
        return probe.fit()


def _write_probe_model(workdir: Path, family: str, quantization: str, encoder_layers: int,
                       decoder_layers: int) -> Path:
    f = FAMILIES[family]
    shape = ModelShape(_ENGLISH_VOCAB, f.n_state, f.n_head, encoder_layers, f.n_state, f.n_head,
                       decoder_layers, n_mels=f.n_mels)
    name = f"probe-{family}-{quantization}-{encoder_layers}-{decoder_layers}.bin"
    return make_model(workdir / name, shape, quantization, lengths="realistic")


def _options(threads: int, ctx: int) -> DecodeOptions:
    # The engine's accurate path asks for the full window with audio_ctx 0; one greedy pass either way.
    return DecodeOptions(n_threads=threads, language="en", audio_ctx=0 if ctx == 1500 else ctx,
                         temperature_fallback=False)


def _fit(depth: int, runs: list[list[tuple]], seconds: float) -> BlockCost:
    """Medians of the encoder times per context; least squares for the decoder steps and the mel."""
    encode = tuple(tuple(statistics.median(r[4] for r in model_runs if r[0] == ctx)
                         for ctx in CTX_POINTS) for model_runs in runs)
    step = (_step_fit(runs[0] + runs[1]), _step_fit(runs[2]))  # one decoder layer, then D
    every = [r for model_runs in runs for r in model_runs]
    a = np.array([[1.0, r[1]] for r in every])
    (m0, m1), *_ = np.linalg.lstsq(a, np.array([r[3] for r in every]), rcond=None)
    overhead = statistics.median(r[6] - r[3] - r[4] - r[5] for r in every)
    return BlockCost(depth=depth, encode=encode, step=step, mel=(float(m0), float(m1)),
                     overhead=float(overhead), probe_seconds=round(seconds, 2))


def _step_fit(runs: list[tuple]) -> tuple[float, float, float]:
    """``(c, d0, d1)``: decode seconds = c + (steps - 1) * (d0 + d1 * ctx), least squares over
    the medians of each probe point."""
    rows, y = [], []
    for ctx, seconds in PROBE_POINTS:
        point = [r for r in runs if r[0] == ctx and r[1] == seconds]
        n = statistics.median(r[2] for r in point) - 1
        rows.append([1.0, n, n * ctx])
        y.append(statistics.median(r[5] for r in point))
    a, y = np.array(rows), np.array(y)
    (c, d0, d1), *_ = np.linalg.lstsq(a, y, rcond=None)
    if c < 0 or d1 < 0:  # noise made a cost negative: fit without that term (costs only add)
        keep = [0 if c >= 0 else None, 1, 2 if d1 >= 0 else None]
        keep = [k for k in keep if k is not None]
        solved, *_ = np.linalg.lstsq(a[:, keep], y, rcond=None)
        c, d0, d1 = (float(dict(zip(keep, solved)).get(k, 0.0)) for k in range(3))
    return float(c), float(d0), float(d1)
