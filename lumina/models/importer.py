"""Importing the models users already have into a model store.

``lumina models import PATH`` and :meth:`lumina.models.ModelStore.import_model`
run :func:`import_checkpoint`: a faster-whisper / CTranslate2 directory, a
transformers Whisper directory or a whisper.cpp ``ggml-*.bin`` file becomes
``ggml-NAME.bin`` in the store, validated like a downloaded model, with a stamp
that records where it came from (its provenance) and the SHA-256 it is checked
against from then on. Importing the same source again is a no-op.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import re
import shutil
from pathlib import Path

from lumina.errors import ArgumentError, ModelIntegrityError, ModelNotFoundError
from lumina.models.download import file_lock
from lumina.models.hashing import file_digests
from lumina.models.imports import QUANTIZATIONS, WhisperShape, read_checkpoint, write_ggml
from lumina.models.modelfile import ModelInfo, validate_model_file
from lumina.models.stamps import fsync_dir, read_stamp, sibling, write_stamp

__all__ = ["ImportedModel", "check_model_name", "default_name", "import_checkpoint"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclasses.dataclass(frozen=True)
class ImportedModel:
    """A model imported into a store.

    Attributes
    ----------
    name : str
        The name it is used by (``Engine(name)``, ``--model name``).
    path : Path
        The ggml file in the store.
    source : Path
        What it was imported from.
    source_format : str
        ``"ctranslate2"``, ``"transformers"`` or ``"ggml"``.
    quantization : str
        How its weight matrices are stored (``"f16"``, ``"q8_0"``, ``"q5_1"``...).
    info : ModelInfo
        What validating the written file found.
    reused : bool
        True when the same source was imported before and nothing was written.
    """

    name: str
    path: Path
    source: Path
    source_format: str
    quantization: str
    info: ModelInfo
    reused: bool


def check_model_name(name: object) -> str:
    """Return ``name`` if it can name a model file (``ggml-NAME.bin``), else raise ArgumentError."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ArgumentError(f"model name {name!r} must be 1-100 letters, digits, '.', '_' or '-', "
                            "starting with a letter or digit")
    return name


def default_name(arch: str | None, english_only: bool, quantization: str) -> str:
    """``tiny.en``, ``base``, ``small.en-q8_0``...: the registry's naming for an architecture."""
    base = (arch or "whisper") + (".en" if english_only else "")
    return base if quantization == "f16" else f"{base}-{quantization}"


def import_checkpoint(root: Path, source: str | os.PathLike[str], *, name: str | None = None,
                      quantize: str | None = None, overwrite: bool = False,
                      progress: bool = False, origin: str | None = None) -> ImportedModel:
    """Convert or copy ``source`` into ``root/ggml-NAME.bin``; see :meth:`ModelStore.import_model`."""
    src = _source_path(source)
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise ArgumentError(f"unknown quantization {quantize!r}; choose one of {list(QUANTIZATIONS)}")
    if name is not None:
        check_model_name(name)
    if src.is_file():
        return _import_ggml(root, src, name, quantize, overwrite, origin)
    weights = read_checkpoint(src)
    quantization = quantize or "f16"
    name = name or default_name(_arch(weights.shape), weights.shape.english_only, quantization)
    digest = _source_digest(src, weights.source_format)
    provenance = _provenance(src, weights.source_format, weights.source_dtype, digest, quantization,
                             origin)
    dest = root / f"ggml-{name}.bin"
    root.mkdir(parents=True, exist_ok=True)
    with file_lock(sibling(dest, ".lock")):
        reused = _reusable(dest, provenance, overwrite, name)
        if reused is not None:
            return ImportedModel(name, dest, src, weights.source_format, quantization, reused, True)
        write_ggml(weights, dest, quantization, on_tensor=_progress_bar(progress, name, weights))
        info = _stamp_import(dest, provenance)
    return ImportedModel(name, dest, src, weights.source_format, quantization, info, False)


def _source_path(source) -> Path:
    if not isinstance(source, (str, os.PathLike)):
        raise ArgumentError(f"a model to import must be a path, not {type(source).__name__}")
    src = Path(source).expanduser()
    if not src.exists():
        raise ModelNotFoundError(f"nothing to import at {src}")
    return src


def _arch(shape: WhisperShape) -> str | None:
    archs = {(384, 4, 4, 80): "tiny", (512, 6, 6, 80): "base", (768, 12, 12, 80): "small",
             (1024, 24, 24, 80): "medium", (1280, 32, 32, 80): "large-v2",
             (1280, 32, 32, 128): "large-v3", (1280, 32, 4, 128): "large-v3-turbo"}
    return archs.get((shape.n_audio_state, shape.n_audio_layer, shape.n_text_layer, shape.n_mels))


def _import_ggml(root: Path, src: Path, name: str | None, quantize: str | None, overwrite: bool,
                 origin: str | None) -> ImportedModel:
    """A whisper.cpp model file: validate it and copy it into the store unchanged."""
    source_info = validate_model_file(src)
    if quantize is not None and quantize != source_info.quantization:
        raise ArgumentError(
            f"{src} is already a ggml model ({source_info.quantization}); lumina converts only "
            "faster-whisper and transformers checkpoints, so import those to quantize, or use "
            "whisper.cpp's quantize tool")
    name = name or default_name(source_info.arch, bool(source_info.english_only),
                                source_info.quantization)
    digest = file_digests(src, sha1=False)[1]
    provenance = _provenance(src, "ggml", source_info.quantization, digest,
                             source_info.quantization, origin)
    dest = root / f"ggml-{name}.bin"
    root.mkdir(parents=True, exist_ok=True)
    with file_lock(sibling(dest, ".lock")):
        reused = _reusable(dest, provenance, overwrite, name)
        if reused is not None:
            return ImportedModel(name, dest, src, "ggml", source_info.quantization, reused, True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        info = _stamp_import(dest, provenance)
    return ImportedModel(name, dest, src, "ggml", source_info.quantization, info, False)


def _source_digest(src: Path, fmt: str) -> str:
    """SHA-256 over the files that hold the weights (their names and bytes)."""
    import hashlib

    files = ([src / "model.bin"] if fmt == "ctranslate2"
             else sorted(src.glob("*.safetensors")))
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(bytes.fromhex(file_digests(f, sha1=False)[1]))
    return h.hexdigest()


def _provenance(src: Path, fmt: str, dtype: str, digest: str, quantization: str,
                origin: str | None) -> dict:
    return {"source": str(src.resolve()), "format": fmt, "source_dtype": dtype,
            "source_sha256": digest, "quantization": quantization, "origin": origin,
            "lumina": _lumina_version(),
            "imported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def _lumina_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lumina")
    except PackageNotFoundError:  # a source tree run without an install
        return "unknown"


def _reusable(dest: Path, provenance: dict, overwrite: bool, name: str) -> ModelInfo | None:
    """The existing file's info when it is this very import; raise if another model holds the name."""
    if not dest.is_file() or overwrite:
        return None
    earlier = read_stamp(dest).get("imported") or {}
    same = all(earlier.get(k) == provenance[k] for k in ("source_sha256", "quantization"))
    if same:
        try:
            return validate_model_file(dest, expected_sha256=read_stamp(dest).get("sha256"))
        except ModelIntegrityError:
            return None  # damaged since: import again over it
    raise ArgumentError(f"a different model is already installed as {name!r} ({dest}); choose "
                        "another name (--name) or replace it (--force / overwrite=True)")


def _stamp_import(dest: Path, provenance: dict) -> ModelInfo:
    try:
        info = validate_model_file(dest)
    except ModelIntegrityError:
        dest.unlink(missing_ok=True)
        raise
    sha256 = file_digests(dest, sha1=False)[1]
    fsync_dir(dest.parent)
    write_stamp(dest, None, sha256, imported=provenance)
    return dataclasses.replace(info, sha256=sha256)


def _progress_bar(enabled: bool, name: str, weights):
    if not enabled:
        return None
    from tqdm import tqdm

    bar = tqdm(total=len(weights.tensors), desc=f"importing {name}", unit="tensor", leave=False)
    return lambda _name: bar.update(1)
