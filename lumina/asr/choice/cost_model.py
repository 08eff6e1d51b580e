"""A cost model of this machine: how long a whisper.cpp call takes, per architecture and storage.

What whisper.cpp does in one call (``whisper_full``) and what each part costs:

mel spectrogram
    ``m0 + m1 * seconds of audio`` (whisper.cpp pads every input with 30 s of
    zeros before the transform, so ``m0`` is not small).
encoder
    ``E(ctx)`` over ``ctx`` encoder frames: 1500 on the accurate path, whole
    blocks of 256 on the fast path (:func:`lumina.asr.speed.fast_audio_ctx`).
    Every block costs ``a + b * ctx`` in its matrix products plus ``c * ctx**2``
    in self-attention, so ``E`` is measured at 256, 512 and 1500 frames and
    read between them on the parabola through those three points.
decoder
    ``c + (steps - 1) * D(ctx)`` with ``D(ctx) = d0 + d1 * ctx``: each token is
    one decoder step whose cross-attention reads ``ctx`` frames (the first step
    is timed with the encoder). Speech gives about three tokens per second
    (:data:`~lumina.models.synthetic_decoding.TOKENS_PER_SECOND`) plus end of text.

Depth: the encoder grows by one block's cost per encoder layer, and by the
cross-attention keys and values of each decoder layer (computed once per call,
with the encoder); the decoder by one layer's cost per step. The probe
(:mod:`lumina.asr.choice.probe`) times three random-weight models of each
width and storage type (:class:`BlockCost`): one encoder and one decoder layer,
two encoder layers and one decoder layer (the encoder block), and one encoder
layer with the family's full decoder depth ``D`` (the decoder and the
cross-attention keys). A model with ``Le`` encoder and ``Ld`` decoder layers is
predicted on those lines. The decoder is measured at full depth because its
steps are bound by memory traffic: one or two layers stay in the CPU's caches
and run up to twice as fast per layer as twelve (measured on the base shape);
the encoder is bound by arithmetic and scales from one layer to twelve within
a few percent. That is how models of one or two encoder layers predict small.en,
and how large-v3-turbo (32 encoder layers, 4 decoder layers) is read from the
large-v3 family's lines.

Families are the widths of the published models (tiny 384 ... large 1280;
large-v3 and large-v3-turbo with 128 mel bands). Storage types are probed as
themselves (``f16``, ``q8_0``, ``q5_1``); ``q5_0`` files are predicted with
``q5_1``'s costs (the same 5-bit kernels, without the block minimum), since
:func:`lumina.testing.make_model` does not write ``q5_0``.

Not modelled: whisper.cpp's temperature fallback (an unsure accurate decode
is decoded again, up to several times: the prediction is that of one greedy
pass, which is what a confident model does), beam search (``beam_size`` > 1:
the prediction is that of a greedy decode, although both speeds default to 5
beams, which cost about 1.2x greedy on tiny.en's accurate path and 2.2x on its
fast path), and other processes competing for the CPUs after the machine was
measured.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping

from lumina.asr.choice.jobs import Job
from lumina.asr.speed import fast_options
from lumina.asr.decode_data import DecodeOptions
from lumina.audio.convert import SAMPLE_RATE
from lumina.models.synthetic_decoding import TOKENS_PER_SECOND

__all__ = ["ARCHITECTURES", "CTX_POINTS", "FAMILIES", "FORMAT", "BlockCost", "CostModel", "Family",
           "MachineKey", "Architecture", "block_id", "call_plan", "architecture_of"]

#: Version of the JSON layout and of the probe's method; a change re-measures.
FORMAT = 3
#: Encoder contexts the probe times (frames): the fast path's first two block counts, the full window.
CTX_POINTS = (256, 512, 1500)
_FULL_CTX = 1500


@dataclasses.dataclass(frozen=True)
class Family:
    """Models of one width: their blocks cost the same, whatever the depth.

    Attributes
    ----------
    name : str
        ``"tiny"``, ``"base"``, ``"small"``, ``"medium"``, ``"large"`` or ``"large-v3"``.
    n_state, n_head, n_mels : int
        Width, attention heads and mel bands.
    n_text_layer : int
        The deepest published decoder of the family (the probe's full-depth decoder).
    """

    name: str
    n_state: int
    n_head: int
    n_mels: int
    n_text_layer: int


#: The widths of the published whisper models, smallest first.
FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("tiny", 384, 6, 80, 4), Family("base", 512, 8, 80, 6), Family("small", 768, 12, 80, 12),
    Family("medium", 1024, 16, 80, 24), Family("large", 1280, 20, 80, 32),
    Family("large-v3", 1280, 20, 128, 32),
)}


@dataclasses.dataclass(frozen=True)
class Architecture:
    """What the cost of a model depends on: its family and its depth."""

    family: str
    n_audio_layer: int
    n_text_layer: int


#: Registry architecture name -> its shape.
ARCHITECTURES: dict[str, Architecture] = {
    "tiny": Architecture("tiny", 4, 4), "base": Architecture("base", 6, 6),
    "small": Architecture("small", 12, 12), "medium": Architecture("medium", 24, 24),
    "large": Architecture("large", 32, 32), "large-v1": Architecture("large", 32, 32),
    "large-v2": Architecture("large", 32, 32), "large-v3": Architecture("large-v3", 32, 32),
    "large-v3-turbo": Architecture("large-v3", 32, 4),
}


def architecture_of(n_audio_state: int, n_mels: int, n_audio_layer: int, n_text_layer: int
             ) -> Architecture | None:
    """The shape of a model file's header values, or None for a width no family has."""
    for family in FAMILIES.values():
        if family.n_state == n_audio_state and family.n_mels == n_mels:
            return Architecture(family.name, n_audio_layer, n_text_layer)
    return None


def block_id(family: str, quantization: str) -> str:
    """The key of a family's block costs in a storage type (``"base/q8_0"``; q5_0 reads q5_1)."""
    return f"{family}/{'q5_1' if quantization == 'q5_0' else quantization}"


@dataclasses.dataclass(frozen=True)
class BlockCost:
    """What the probe measured for one family in one storage type, in seconds.

    Attributes
    ----------
    depth : int
        ``D``: the decoder depth of the third probe model.
    encode : tuple of three tuples of float
        Encoder time (the cross-attention keys and the first decoder step
        included) at each of :data:`CTX_POINTS`, of the models with (encoder,
        decoder) layers (1, 1), (2, 1) and (1, D).
    step : tuple of two (c, d0, d1)
        Decoder time after the first step, ``c + (steps - 1) * (d0 + d1 * ctx)``,
        with 1 and with D decoder layers.
    mel : tuple of float
        ``(m0, m1)``: mel spectrogram seconds, ``m0 + m1 * audio seconds``.
    overhead : float
        The rest of a call (setup, reading the result back).
    probe_seconds : float
        How long measuring this took.
    """

    depth: int
    encode: tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]
    step: tuple[tuple[float, float, float], tuple[float, float, float]]
    mel: tuple[float, float]
    overhead: float
    probe_seconds: float = 0.0

    def encoder_seconds(self, ctx: int, encoder_layers: int, decoder_layers: int) -> float:
        """Encoder time over ``ctx`` frames of a model of this depth (cross-attention keys included)."""
        one, two, deep = (_parabola(CTX_POINTS, e, ctx) for e in self.encode)
        per_layer = max(0.0, two - one)
        per_cross = max(0.0, deep - one) / (self.depth - 1)
        return one + (encoder_layers - 1) * per_layer + (decoder_layers - 1) * per_cross

    def decoder_seconds(self, ctx: int, steps: int, layers: int) -> float:
        """Decoder time of ``steps`` steps (the first one is timed with the encoder) of a
        ``layers``-deep decoder attending to ``ctx`` frames."""
        one, deep = (c + (steps - 1) * (d0 + d1 * ctx) for c, d0, d1 in self.step)
        return one + (layers - 1) * max(0.0, deep - one) / (self.depth - 1)


def _parabola(xs: tuple[int, ...], ys: tuple[float, ...], x: float) -> float:
    """The value at ``x`` of the parabola through three points (``x`` clamped into their range)."""
    x = min(max(x, xs[0]), xs[-1])
    total = 0.0
    for i, (xi, yi) in enumerate(zip(xs, ys)):
        weight = 1.0
        for j, xj in enumerate(xs):
            if j != i:
                weight *= (x - xj) / (xi - xj)
        total += weight * yi
    return total


def call_plan(job: Job) -> tuple[int, int]:
    """``(encoder frames, decoder steps)`` of one call of ``job``, as the engine would run it.

    The fast path's context and token budget are the engine's own
    (:func:`lumina.asr.speed.fast_options`); the steps are the tokens speech
    gives (three per second) plus end of text.
    """
    n_samples = int(round(job.audio_seconds * SAMPLE_RATE))
    steps = math.ceil(TOKENS_PER_SECOND * job.audio_seconds) + 1
    if job.speed == "fast":
        fast = fast_options(DecodeOptions(n_threads=1), n_samples, _FULL_CTX)
        if fast is not None:
            return fast[0].audio_ctx, min(steps, fast[1] + 1)
    return _FULL_CTX, steps


@dataclasses.dataclass(frozen=True)
class MachineKey:
    """What a cost model holds for: a measured model is reused only on an equal key.

    Attributes
    ----------
    cpu : str
        The CPU's model name.
    cpus : str
        The CPUs this process may use (affinity list, cgroup quota).
    threads : int
        Threads per inference.
    device : str
        ``"cpu"``, or the GPU backend(s) the installed whisper.cpp was built
        with and the GPU's name where ``nvidia-smi`` gives it
        (``"gpu:cuda (NVIDIA H100 80GB HBM3)"``).
    backend : str
        pywhispercpp's version and whisper.cpp's build features (``system_info``).
    lumina : str
        lumina's version.
    format : int
        :data:`FORMAT`.
    """

    cpu: str
    cpus: str
    threads: int
    device: str
    backend: str
    lumina: str
    format: int = FORMAT

    def digest(self) -> str:
        """A short stable hash of the key (the cache file's name)."""
        text = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def describe(self) -> str:
        """The key in one line of words."""
        return (f"{self.cpu}, {self.threads} thread{'s' if self.threads != 1 else ''} on CPUs "
                f"{self.cpus}, {self.device}; {self.backend.split(';')[0]}; lumina {self.lumina}")


@dataclasses.dataclass(frozen=True)
class CostModel:
    """The measured costs of this machine, and predictions from them.

    Attributes
    ----------
    key : MachineKey
        The machine, backend build and lumina version it was measured on.
    blocks : mapping of str to BlockCost
        By :func:`block_id` (``"tiny/f16"``): the families and storage types measured so far.
    measured_at : str
        When it was (last) measured, ISO 8601.
    load_average : float or None
        The 1-minute load average when it was measured (a busy machine measures slow).
    """

    key: MachineKey
    blocks: Mapping[str, BlockCost]
    measured_at: str = ""
    load_average: float | None = None

    def predict(self, shape: Architecture, quantization: str, job: Job) -> float | None:
        """Seconds one call of ``job`` takes on a model of this shape, or None when not measured."""
        block = self.blocks.get(block_id(shape.family, quantization))
        if block is None:
            return None
        ctx, steps = call_plan(job)
        m0, m1 = block.mel
        return (m0 + m1 * job.audio_seconds
                + block.encoder_seconds(ctx, shape.n_audio_layer, shape.n_text_layer)
                + block.decoder_seconds(ctx, steps, shape.n_text_layer) + block.overhead)

    def with_blocks(self, blocks: Mapping[str, BlockCost], *, measured_at: str,
                    load_average: float | None) -> CostModel:
        """A copy holding ``blocks`` as well (new measurements replace old ones)."""
        merged = dict(self.blocks)
        merged.update(blocks)
        return CostModel(self.key, dict(sorted(merged.items())), measured_at, load_average)

    def to_json(self) -> dict:
        """The model as JSON data (:meth:`from_json` reads it back equal)."""
        return {"format": FORMAT, "key": dataclasses.asdict(self.key),
                "measured_at": self.measured_at, "load_average": self.load_average,
                "blocks": {name: dataclasses.asdict(b) for name, b in self.blocks.items()}}

    @classmethod
    def from_json(cls, data: dict) -> CostModel:
        """Read :meth:`to_json`'s data; raises KeyError, TypeError or ValueError on other data."""
        if data.get("format") != FORMAT:
            raise ValueError(f"cost model format {data.get('format')!r}, expected {FORMAT}")
        blocks = {}
        for name, b in data["blocks"].items():
            blocks[name] = BlockCost(
                depth=int(b["depth"]),
                encode=tuple(tuple(float(v) for v in row) for row in b["encode"]),
                step=tuple((float(c), float(d0), float(d1)) for c, d0, d1 in b["step"]),
                mel=(float(b["mel"][0]), float(b["mel"][1])), overhead=float(b["overhead"]),
                probe_seconds=float(b["probe_seconds"]))
            block = blocks[name]
            if (block.depth < 2 or len(block.encode) != 3 or len(block.step) != 2
                    or any(len(r) != len(CTX_POINTS) for r in block.encode)):
                raise ValueError(f"block {name!r} has the wrong number of points")
        load = data.get("load_average")
        return cls(MachineKey(**data["key"]), blocks, str(data.get("measured_at", "")),
                   None if load is None else float(load))

