"""Whisper models with random weights, for offline tests and benchmarks.

:func:`make_model` writes a real whisper.cpp model file (the legacy ggml
format that whisper.cpp loads): the real header, a real mel filterbank, a
vocabulary and every tensor whisper.cpp expects, with the shapes of the
published models. Only the weights are random, so such a model costs exactly
as much memory and compute as the real one of the same shape, while its text
is meaningless. Tests therefore compare tokens between two code paths instead
of expecting words.

Shapes
------
``micro``
    A test-sized model (a few MB): one layer of width 64, real vocabulary size.
``tiny.en``, ``tiny``, ``base.en``, ``base``, ``small.en``
    The shapes of the published models of the same names.

The weights are scaled so that the decoder is confident (no temperature
fallback) and stops after a few tokens, as a trained model does on a
short utterance; see :func:`_decoder_bias` for how. Two options change that
(:mod:`lumina.models.synthetic_decoding`): ``decoding="unsure"`` makes greedy
decodes fail whisper.cpp's log-probability threshold, so it takes its
temperature fallback, and ``lengths="realistic"`` makes transcripts as long as
speech's (about three tokens per second of sound).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from lumina.errors import ArgumentError
from lumina.models.ggml_writer import (FILE_FTYPES, atomic_output, quantize_q8_0, write_header,
                                       write_tensor)
from lumina.models.mel import mel_filterbank
from lumina.models.modelfile import HParams
from lumina.models.synthetic_decoding import (DECODINGS, LENGTHS, RealisticLengths, check_options,
                                              logit_gain)

__all__ = ["DECODINGS", "FTYPES", "LENGTHS", "ModelShape", "SHAPES", "make_model",
           "mel_filterbank", "quantize_q8_0"]

# No "f32": whisper.cpp 1.8.5 cannot run all-f32 files (lumina.models.tensors.unrunnable_ftype).
_FILE_FTYPE = FILE_FTYPES
#: The storage types :func:`make_model` writes (``--ftype`` choices of the command lines).
FTYPES = tuple(FILE_FTYPES)

# Decoder tuning, found by measurement on the tiny.en shape (see _decoder_bias):
# a strong position signal keeps a token from predicting itself forever (the
# embedding is tied to the output layer), and the end-of-text bonus, in units
# of the logits' standard deviation, ends a transcript after a few tokens.
_DECODER_POSITION_STD = 8.0
_EOT_BONUS = 1.2
# The final norm's gain sharpens every logit: confident tokens, so no temperature
# fallback (lumina.models.synthetic_decoding.logit_gain; decoding="unsure" lowers it).


@dataclasses.dataclass(frozen=True)
class ModelShape:
    """Hyper-parameters of a whisper model, as stored in a ggml file header."""

    n_vocab: int
    n_audio_state: int
    n_audio_head: int
    n_audio_layer: int
    n_text_state: int
    n_text_head: int
    n_text_layer: int
    n_mels: int = 80
    n_audio_ctx: int = 1500
    n_text_ctx: int = 448

    @property
    def english_only(self) -> bool:
        """Whether the vocabulary is the English-only one (whisper.cpp decides by size)."""
        return self.n_vocab < 51865


def _shape(vocab: int, state: int, heads: int, layers: int) -> ModelShape:
    return ModelShape(vocab, state, heads, layers, state, heads, layers)


#: The shapes :func:`make_model` can write, by name.
SHAPES: dict[str, ModelShape] = {
    "micro": _shape(51864, 64, 2, 1),
    "tiny.en": _shape(51864, 384, 6, 4),
    "tiny": _shape(51865, 384, 6, 4),
    "base.en": _shape(51864, 512, 8, 6),
    "base": _shape(51865, 512, 8, 6),
    "small.en": _shape(51864, 768, 12, 12),
}


def make_model(path: str | os.PathLike[str], arch: str | ModelShape = "micro", ftype: str = "f16",
               seed: int = 0, *, decoding: str = "confident", lengths: str = "short") -> Path:
    """Write a whisper.cpp model with random weights and return its path.

    Parameters
    ----------
    path : str or PathLike
        Where to write the ``.bin`` file (missing folders are created). Written
        to a temporary name first and renamed, so a reader never sees half a model.
    arch : str or ModelShape
        A name from :data:`SHAPES` (``"micro"``, ``"tiny.en"``, ``"tiny"``,
        ``"base.en"``, ``"base"``, ``"small.en"``), or a :class:`ModelShape` of
        your own (the cost probe of :mod:`lumina.asr.choice` writes published
        widths with one or two layers).
    ftype : {"f16", "q8_0", "q5_1"}
        Storage type of the weight matrices (biases, norms and positional
        embeddings are always f32, convolutions f16), as in the published
        files.  There is no ``"f32"``: whisper.cpp 1.8.5 aborts the process
        on all-f32 models, and lumina refuses them.
    seed : int
        Seed of the random weights; the same seed writes the same bytes.
    decoding : {"confident", "unsure"}
        ``"confident"``: greedy tokens are near-certain and whisper.cpp never
        takes its temperature fallback. ``"unsure"``: the same greedy tokens
        with probabilities of about 0.2-0.3, so a greedy decode fails
        whisper.cpp's log-probability threshold (-1.0) and, with its default
        parameters, is retried at temperature 0.2 with 5 sampled decoders.
    lengths : {"short", "realistic"}
        ``"short"``: one to three tokens whatever the audio. ``"realistic"``:
        about three tokens per second of sound, in the full window and in a
        cut encoder context alike (see
        :class:`~lumina.models.synthetic_decoding.RealisticLengths` for how and
        what was measured).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ArgumentError
        An unknown ``arch``, ``ftype``, ``decoding`` or ``lengths`` (also a ValueError).
    """
    if not isinstance(arch, ModelShape) and arch not in SHAPES:
        raise ArgumentError(f"unknown arch {arch!r}; choose one of {sorted(SHAPES)} or pass a ModelShape")
    if ftype not in _FILE_FTYPE:
        hint = " (whisper.cpp cannot run all-f32 models; use 'f16')" if ftype == "f32" else ""
        raise ArgumentError(f"unknown ftype {ftype!r}; choose one of {sorted(_FILE_FTYPE)}{hint}")
    check_options(decoding, lengths)
    shape = arch if isinstance(arch, ModelShape) else SHAPES[arch]
    edit = _length_edit(shape, seed) if lengths == "realistic" else None
    path = Path(path)
    rng = np.random.default_rng(seed)
    with atomic_output(path) as out:
        write_header(out, _hparams(shape, ftype), mel_filterbank(shape.n_mels),
                     _vocabulary(_n_text_tokens(shape)))
        for name, data, kind in _tensors(shape, ftype, rng, logit_gain(decoding)):
            write_tensor(out, name, edit(name, data) if edit else data, kind)
    return path


# --------------------------------------------------------------------------- header

def _hparams(shape: ModelShape, ftype: str) -> HParams:
    return HParams(shape.n_vocab, shape.n_audio_ctx, shape.n_audio_state, shape.n_audio_head,
                   shape.n_audio_layer, shape.n_text_ctx, shape.n_text_state, shape.n_text_head,
                   shape.n_text_layer, shape.n_mels, FILE_FTYPES[ftype])


def _n_text_tokens(shape: ModelShape) -> int:
    # The file holds the ordinary tokens; whisper.cpp adds end-of-text and the
    # special tokens itself. English-only models have one ordinary token less.
    return 50256 if shape.english_only else 50257


_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


def _vocabulary(n_tokens: int) -> list[bytes]:
    """Pronounceable ASCII pseudo-words, half with a leading space like BPE tokens.

    Plain ASCII keeps every possible token sequence valid UTF-8, so decoded
    text can always be turned into a Python string.
    """
    tokens = []
    for i in range(n_tokens):
        if i < 95:
            tokens.append(bytes([32 + i]))  # printable ASCII, as the byte-level tokens
            continue
        a, b = divmod(i, len(_SYLLABLES))
        word = _SYLLABLES[a % len(_SYLLABLES)] + _SYLLABLES[b]
        tokens.append(((" " if i % 2 == 0 else "") + word).encode("ascii"))
    return tokens


# --------------------------------------------------------------------------- tensors

def _length_edit(shape: ModelShape, seed: int) -> RealisticLengths:
    return RealisticLengths(shape.n_audio_state, shape.n_text_state, shape.n_text_head,
                            shape.n_text_layer, shape.n_mels, shape.n_vocab, shape.english_only,
                            _n_text_tokens(shape), seed)


def _tensors(shape: ModelShape, ftype: str, rng: np.random.Generator, gain: float
             ) -> Iterator[tuple[str, np.ndarray, str]]:
    """Yield ``(name, float32 data, storage kind)`` for every tensor whisper.cpp loads.

    ``data`` has numpy shape ``reversed(ne)``: ggml's first dimension is the
    fastest-varying, numpy's the slowest.
    """
    matrix, conv = ftype, "f16"
    a, t = shape.n_audio_state, shape.n_text_state
    yield "encoder.positional_embedding", _sinusoids(shape.n_audio_ctx, a), "f32"
    yield "encoder.conv1.weight", _weights(rng, (a, shape.n_mels, 3), 3 * shape.n_mels), conv
    yield "encoder.conv1.bias", np.zeros((a, 1), np.float32), "f32"
    yield "encoder.conv2.weight", _weights(rng, (a, a, 3), 3 * a), conv
    yield "encoder.conv2.bias", np.zeros((a, 1), np.float32), "f32"
    for i in range(shape.n_audio_layer):
        yield from _block(f"encoder.blocks.{i}", a, rng, matrix, cross=False)
    yield "encoder.ln_post.weight", np.ones(a, np.float32), "f32"
    yield "encoder.ln_post.bias", np.zeros(a, np.float32), "f32"

    yield "decoder.positional_embedding", _weights(rng, (shape.n_text_ctx, t), 1 / _DECODER_POSITION_STD**2), "f32"
    embedding, ln_bias = _decoder_bias(rng, shape)
    yield "decoder.token_embedding.weight", embedding, matrix
    for i in range(shape.n_text_layer):
        yield from _block(f"decoder.blocks.{i}", t, rng, matrix, cross=True)
    yield "decoder.ln.weight", np.full(t, gain, np.float32), "f32"
    yield "decoder.ln.bias", ln_bias * np.float32(gain), "f32"


def _block(prefix: str, n: int, rng: np.random.Generator, matrix: str, *, cross: bool
           ) -> Iterator[tuple[str, np.ndarray, str]]:
    attentions = ["attn", "cross_attn"] if cross else ["attn"]
    for att in attentions:
        yield f"{prefix}.{att}_ln.weight", np.ones(n, np.float32), "f32"
        yield f"{prefix}.{att}_ln.bias", np.zeros(n, np.float32), "f32"
        yield f"{prefix}.{att}.query.weight", _weights(rng, (n, n), n), matrix
        yield f"{prefix}.{att}.query.bias", np.zeros(n, np.float32), "f32"
        yield f"{prefix}.{att}.key.weight", _weights(rng, (n, n), n), matrix
        yield f"{prefix}.{att}.value.weight", _weights(rng, (n, n), n), matrix
        yield f"{prefix}.{att}.value.bias", np.zeros(n, np.float32), "f32"
        yield f"{prefix}.{att}.out.weight", _weights(rng, (n, n), n), matrix
        yield f"{prefix}.{att}.out.bias", np.zeros(n, np.float32), "f32"
    yield f"{prefix}.mlp_ln.weight", np.ones(n, np.float32), "f32"
    yield f"{prefix}.mlp_ln.bias", np.zeros(n, np.float32), "f32"
    yield f"{prefix}.mlp.0.weight", _weights(rng, (4 * n, n), n), matrix
    yield f"{prefix}.mlp.0.bias", np.zeros(4 * n, np.float32), "f32"
    yield f"{prefix}.mlp.2.weight", _weights(rng, (n, 4 * n), 4 * n), matrix
    yield f"{prefix}.mlp.2.bias", np.zeros(n, np.float32), "f32"


def _weights(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    # Scaled like a trained network (variance 1 / fan_in) so activations stay finite.
    data = rng.standard_normal(shape, dtype=np.float32)
    data *= np.float32(1.0 / np.sqrt(fan_in))
    return data


def _sinusoids(length: int, channels: int) -> np.ndarray:
    """The fixed sinusoidal position embedding of whisper's encoder."""
    half = channels // 2
    scales = np.exp(-np.log(10000.0) / max(half - 1, 1) * np.arange(half))
    angles = np.arange(length)[:, None] * scales[None, :]
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1).astype(np.float32)


def _decoder_bias(rng: np.random.Generator, shape: ModelShape) -> tuple[np.ndarray, np.ndarray]:
    """Token embedding and final-norm bias that make random decoding behave.

    Logits are ``ln(x) @ embedding.T``. A bias ``b`` on the final norm adds
    ``embedding @ b`` to every logit, so giving a few tokens a component along
    ``b`` makes it likely. Only the end-of-text token gets one, so the decoder
    stops after a short run of tokens, as a trained model does on a short
    utterance, instead of looping until the 224-token limit. The final norm's
    gain (:func:`~lumina.models.synthetic_decoding.logit_gain`, applied to its bias
    too) then scales every logit,
    which keeps the argmax but makes it confident: a trained model's average
    log-probability stays above whisper.cpp's -1.0 fallback threshold, and so
    must ours, or every call would re-decode at five temperatures.
    """
    t = shape.n_text_state
    embedding = _weights(rng, (shape.n_vocab, t), 1.0)  # unit variance: logits ~ N(0, t)
    direction = _weights(rng, (t,), 1.0)
    direction /= np.linalg.norm(direction)
    eot = _n_text_tokens(shape)
    embedding[eot] += direction * np.float32(_EOT_BONUS * np.sqrt(t))
    return embedding, direction


def main(argv: list[str] | None = None) -> int:
    """``python -m lumina.testing ARCH PATH [--ftype F] [--seed N] [--decoding D] [--lengths L]``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m lumina.testing",
        description="Write a whisper.cpp model with random weights (real format and compute cost, "
                    "meaningless text) for offline tests, demos and benchmarks.")
    parser.add_argument("arch", choices=sorted(SHAPES))
    parser.add_argument("path")
    parser.add_argument("--ftype", choices=FTYPES, default="f16")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--decoding", choices=DECODINGS, default="confident",
                        help="'unsure': greedy decodes fail whisper.cpp's log-probability threshold")
    parser.add_argument("--lengths", choices=LENGTHS, default="short",
                        help="'realistic': about three tokens per second of sound")
    args = parser.parse_args(argv)
    path = make_model(args.path, args.arch, args.ftype, args.seed, decoding=args.decoding,
                      lengths=args.lengths)
    print(f"{path}: random-weight {args.arch} ({args.ftype}), {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
