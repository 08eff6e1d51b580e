"""What whisper.cpp expects of a model file's tensor table: names, shapes and storage types.

whisper.cpp 1.8.5 creates every tensor from the header's hyper-parameters and
then refuses (or, for a few layouts, crashes on) a file whose tensors differ.
This module states those expectations once, so the validator can refuse a
file with a precise :class:`~lumina.errors.ModelIntegrityError` before
whisper.cpp sees it.

Shapes are ggml's ``ne`` (fastest-varying dimension first), padded with 1s to
four dimensions, which is how whisper.cpp compares them.
"""

from __future__ import annotations

__all__ = ["FTYPE_NAMES", "TENSOR_TYPES", "expected_tensor_names", "expected_tensors",
           "padded", "tensor_mismatch", "unrunnable_ftype"]

GGML_F32, GGML_F16 = 0, 1

#: ggml file type (``ftype % 1000``) -> quantization name.
FTYPE_NAMES = {0: "f32", 1: "f16", 2: "q4_0", 3: "q4_1", 7: "q8_0", 8: "q5_0", 9: "q5_1"}
#: ggml tensor type -> (name, elements per block, bytes per block).
TENSOR_TYPES = {
    0: ("f32", 1, 4), 1: ("f16", 1, 2), 2: ("q4_0", 32, 18), 3: ("q4_1", 32, 20),
    6: ("q5_0", 32, 22), 7: ("q5_1", 32, 24), 8: ("q8_0", 32, 34),
}
# ggml_ftype_to_ggml_type: the tensor type of the weight matrices in a file of each ftype.
_MATRIX_TYPE = {0: 0, 1: 1, 2: 2, 3: 3, 7: 8, 8: 6, 9: 7}

# Per block: (part, shape in units of the block's width n, is a weight matrix).
# "4n" is the MLP's hidden width.
_ATTENTION = (
    ("attn_ln.weight", ("n",), False), ("attn_ln.bias", ("n",), False),
    ("attn.query.weight", ("n", "n"), True), ("attn.query.bias", ("n",), False),
    ("attn.key.weight", ("n", "n"), True),
    ("attn.value.weight", ("n", "n"), True), ("attn.value.bias", ("n",), False),
    ("attn.out.weight", ("n", "n"), True), ("attn.out.bias", ("n",), False),
)
_MLP = (
    ("mlp_ln.weight", ("n",), False), ("mlp_ln.bias", ("n",), False),
    ("mlp.0.weight", ("n", "4n"), True), ("mlp.0.bias", ("4n",), False),
    ("mlp.2.weight", ("4n", "n"), True), ("mlp.2.bias", ("n",), False),
)
_ENCODER_BLOCK = _MLP + _ATTENTION
_DECODER_BLOCK = _ENCODER_BLOCK + tuple(
    (f"cross_{part}", shape, matrix) for part, shape, matrix in _ATTENTION)


def unrunnable_ftype(ftype: int) -> str | None:
    """Why whisper.cpp cannot run a file of this ``ftype``, or None when it can.

    whisper.cpp stores the convolution kernels of an all-f32 file (ftype 0) as
    f32, and its CPU convolution (``ggml_conv_1d`` -> ``im2col`` with an f16
    result) asserts ``src0->type == GGML_TYPE_F16``: the process aborts at the
    first inference.  An f32 file with f16 kernels is refused at load instead
    (wrong size), so no all-f32 file can run.  Measured with pywhispercpp
    1.5.1 (whisper.cpp 1.8.5); tests/test_models.py keeps checking it.
    """
    if ftype % 1000 == 0:
        return ("it is an all-f32 model (ftype=0), which whisper.cpp 1.8.5 cannot run: its "
                "CPU convolution needs f16 kernels and aborts the process on f32 ones. Use "
                "an f16 or quantized file instead (the published ggml-*.bin files; "
                "whisper.cpp's convert-pt-to-ggml.py writes f16 unless asked for f32; "
                "lumina.testing.make_model(ftype='f16'))")
    return None


def expected_tensor_names(n_audio_layer: int, n_text_layer: int) -> list[str]:
    """Return the tensor names whisper.cpp loads, in a fixed order.

    Parameters
    ----------
    n_audio_layer, n_text_layer : int
        Number of encoder and decoder blocks.
    """
    names = ["encoder.positional_embedding", "encoder.conv1.weight", "encoder.conv1.bias",
             "encoder.conv2.weight", "encoder.conv2.bias", "encoder.ln_post.weight",
             "encoder.ln_post.bias"]
    for i in range(n_audio_layer):
        names += [f"encoder.blocks.{i}.{part}" for part, _, _ in _ENCODER_BLOCK]
    names += ["decoder.positional_embedding", "decoder.token_embedding.weight",
              "decoder.ln.weight", "decoder.ln.bias"]
    for i in range(n_text_layer):
        names += [f"decoder.blocks.{i}.{part}" for part, _, _ in _DECODER_BLOCK]
    return names


def expected_tensors(hp) -> dict[str, tuple[tuple[int, int, int, int], int]]:
    """Map every tensor name to its expected ``(padded ne, ggml type)`` for header ``hp``.

    ``hp`` is a :class:`~lumina.models.modelfile.HParams` (or anything with
    its fields).  Weight matrices take the file's type, the convolution
    kernels f16 (f32 in an all-f32 file), everything else is f32, as
    whisper.cpp's loader creates them.
    """
    matrix = _MATRIX_TYPE[hp.ftype % 1000]
    conv = GGML_F32 if matrix == GGML_F32 else GGML_F16
    a, t = hp.n_audio_state, hp.n_text_state
    out = {
        "encoder.positional_embedding": (padded((a, hp.n_audio_ctx)), GGML_F32),
        "encoder.conv1.weight": (padded((3, hp.n_mels, a)), conv),
        "encoder.conv1.bias": (padded((1, a)), GGML_F32),
        "encoder.conv2.weight": (padded((3, a, a)), conv),
        "encoder.conv2.bias": (padded((1, a)), GGML_F32),
        "encoder.ln_post.weight": (padded((a,)), GGML_F32),
        "encoder.ln_post.bias": (padded((a,)), GGML_F32),
        "decoder.positional_embedding": (padded((t, hp.n_text_ctx)), GGML_F32),
        "decoder.token_embedding.weight": (padded((t, hp.n_vocab)), matrix),
        "decoder.ln.weight": (padded((t,)), GGML_F32),
        "decoder.ln.bias": (padded((t,)), GGML_F32),
    }
    for prefix, n, layers, parts in (("encoder", a, hp.n_audio_layer, _ENCODER_BLOCK),
                                     ("decoder", t, hp.n_text_layer, _DECODER_BLOCK)):
        sizes = {"n": n, "4n": 4 * n}
        for i in range(layers):
            for part, shape, is_matrix in parts:
                ne = padded(tuple(sizes[s] for s in shape))
                out[f"{prefix}.blocks.{i}.{part}"] = (ne, matrix if is_matrix else GGML_F32)
    return out


def tensor_mismatch(hp, name: str, ne: tuple[int, ...], ttype: int,
                    want_ne: tuple[int, ...], want_type: int) -> str | None:
    """Why tensor ``name`` (shape ``ne``, type ``ttype``) does not fit header ``hp``, or None.

    whisper.cpp refuses such a tensor at load (its size check); lumina says
    which tensor, what the header implies and what the file holds.
    """
    if padded(ne) != want_ne:
        shown = list(want_ne[:max(len(ne), _rank(want_ne))])
        return (f"tensor {name!r} has shape {list(ne)} but the header implies {shown} "
                f"({_header_facts(hp)}); the header and the tensors disagree: the file is "
                "corrupt or was converted wrongly")
    if ttype != want_type:
        return (f"tensor {name!r} is stored as {TENSOR_TYPES[ttype][0]} but whisper.cpp "
                f"expects {TENSOR_TYPES[want_type][0]} in a {FTYPE_NAMES[hp.ftype % 1000]} "
                f"file (ftype={hp.ftype}); the file was converted wrongly")
    return None


def _rank(ne: tuple[int, ...]) -> int:
    return max((i + 1 for i, d in enumerate(ne) if d != 1), default=1)


def _header_facts(hp) -> str:
    return ", ".join(f"{k}={getattr(hp, k)}" for k in (
        "n_vocab", "n_audio_ctx", "n_audio_state", "n_text_ctx", "n_text_state", "n_mels"))


def padded(ne: tuple[int, ...]) -> tuple[int, int, int, int]:
    """``ne`` with trailing 1s up to four dimensions (ggml's view of a shape)."""
    return tuple(ne) + (1,) * (4 - len(ne))
