"""Model file validation, the registry, and ModelStore lookups (no network)."""

from __future__ import annotations

import hashlib
import signal
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lumina
from lumina import ModelIntegrityError, ModelNotFoundError
from lumina.models import hashing as _hashing
from lumina.models import modelfile as _modelfile
from lumina.models.modelfile import expected_tensor_names, tensor_table
from lumina.models import REGISTRY, ModelStore, validate_model_file
from lumina.testing import make_model
from _child_util import child_env

HEADER_END = 4 + 11 * 4 + 8  # magic, hparams, mel filter dims


@pytest.fixture(scope="module")
def micro(tmp_path_factory) -> Path:
    return make_model(tmp_path_factory.mktemp("m") / "ggml-micro.bin", arch="micro")


@pytest.fixture(scope="module")
def micro_bytes(micro) -> bytes:
    return micro.read_bytes()


def _write(tmp_path: Path, data: bytes, name: str = "m.bin") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _patch(data: bytes, offset: int, fmt: str, *values: int) -> bytes:
    buf = bytearray(data)
    struct.pack_into(fmt, buf, offset, *values)
    return bytes(buf)


def _vocab_end(data: bytes) -> int:
    """Offset of the first tensor entry (end of the vocabulary)."""
    n_mel, n_fft = struct.unpack_from("<2i", data, 48)
    pos = HEADER_END + 4 * n_mel * n_fft
    (n,) = struct.unpack_from("<i", data, pos)
    pos += 4
    for _ in range(n):
        pos += 4 + struct.unpack_from("<I", data, pos)[0]
    return pos


# -- valid files ----------------------------------------------------------------

def test_valid_micro_model_reports_its_header(micro):
    info = validate_model_file(micro)
    hp = info.hparams
    assert (hp.n_audio_layer, hp.n_text_layer) == (1, 1)
    assert hp.n_vocab == 51864 and info.english_only is True
    assert info.ftype == 1 and info.quantization == "f16"
    assert info.n_tensors == 7 + 15 + 4 + 24 == len(expected_tensor_names(1, 1))
    assert info.arch is None  # micro is no released checkpoint
    assert info.file_size == micro.stat().st_size
    assert (info.sha1, info.sha256) == (None, None)
    with pytest.raises(AttributeError):
        info.ftype = 2  # frozen


def test_hashes_are_checked_and_returned(micro, micro_bytes):
    sha1 = hashlib.sha1(micro_bytes).hexdigest()
    sha256 = hashlib.sha256(micro_bytes).hexdigest()
    info = validate_model_file(micro, expected_sha1=sha1.upper(), expected_sha256=sha256,
                               expected_size=len(micro_bytes))
    assert (info.sha1, info.sha256) == (sha1, sha256)


def test_wrong_hash_names_both_digests(micro, micro_bytes):
    sha1 = hashlib.sha1(micro_bytes).hexdigest()
    with pytest.raises(ModelIntegrityError, match=f"SHA-1 is {sha1} but {'0' * 40} was expected"):
        validate_model_file(micro, expected_sha1="0" * 40)
    with pytest.raises(ModelIntegrityError, match="SHA-256 is [0-9a-f]{64} but f+ was expected"):
        validate_model_file(micro, expected_sha256="f" * 64)


def test_wrong_size_is_reported_before_anything_is_read(micro, micro_bytes):
    with pytest.raises(ModelIntegrityError,
                       match=f"size is {len(micro_bytes)} bytes but 5 bytes were expected"):
        validate_model_file(micro, expected_size=5)


def test_q8_0_model_is_valid(tmp_path):
    info = validate_model_file(make_model(tmp_path / "q.bin", arch="micro", ftype="q8_0"))
    assert info.quantization == "q8_0"
    assert info.n_tensors == 50


def test_tensor_table_covers_the_file_exactly(micro, micro_bytes):
    table = tensor_table(micro)
    assert sorted(t[0] for t in table) == sorted(expected_tensor_names(1, 1))
    assert table[0][1] == _vocab_end(micro_bytes)
    for (_, _, data_at, nbytes), nxt in zip(table, table[1:]):
        assert data_at + nbytes == nxt[1]
    assert table[-1][2] + table[-1][3] == len(micro_bytes)


# -- broken files -----------------------------------------------------------------

def test_missing_file_is_model_not_found(tmp_path):
    with pytest.raises(ModelNotFoundError, match=f"no model file at {tmp_path / 'nope.bin'}"):
        validate_model_file(tmp_path / "nope.bin")


def test_every_truncation_in_the_header_region_is_rejected(tmp_path, micro_bytes):
    p = tmp_path / "t.bin"
    for n in range(HEADER_END + 1):
        p.write_bytes(micro_bytes[:n])
        with pytest.raises(ModelIntegrityError, match="truncated in the (header|mel filters)"):
            validate_model_file(p)


def test_truncation_in_filters_vocabulary_and_tensors_is_rejected(tmp_path, micro_bytes):
    vocab_end = _vocab_end(micro_bytes)
    table = tensor_table(_write(tmp_path, micro_bytes, "full.bin"))
    cases = {
        HEADER_END + 100: "truncated in the mel filters",
        vocab_end - 1: "truncated in the vocabulary",
        vocab_end - 3: "truncated in the vocabulary",
        (HEADER_END + vocab_end) // 2: "truncated in the vocabulary",
        vocab_end + 5: "truncated in the tensor table",          # inside a tensor entry
        table[1][2] - 2: "truncated in the tensor table",        # inside a tensor name
        table[1][2] + 1: f"needs {table[1][3]} data bytes",         # inside tensor data
        table[-1][2] + table[-1][3] - 1: "the file ends at",     # last byte missing
        len(micro_bytes) // 2: "the file ends at|truncated in the tensor table",
    }
    p = tmp_path / "t.bin"
    for n, message in cases.items():
        p.write_bytes(micro_bytes[:n])
        with pytest.raises(ModelIntegrityError, match=message):
            validate_model_file(p)


def test_cut_at_a_tensor_boundary_names_the_first_missing_tensor(tmp_path, micro_bytes):
    table = tensor_table(_write(tmp_path, micro_bytes, "full.bin"))
    name, entry_at = table[-1][0], table[-1][1]
    p = _write(tmp_path, micro_bytes[:entry_at])
    with pytest.raises(ModelIntegrityError, match=rf"tensor '{name}' is missing \(49 of 50"):
        validate_model_file(p)


def test_header_only_file_has_zero_tensors(tmp_path, micro_bytes):
    p = _write(tmp_path, micro_bytes[:_vocab_end(micro_bytes)])
    with pytest.raises(ModelIntegrityError, match="no tensors"):
        validate_model_file(p)


def test_html_error_page_is_named(tmp_path):
    for page in (b"<!DOCTYPE html><html><body>Not found</body></html>",
                 b"\n  <html><head><title>502</title></head></html>"):
        with pytest.raises(ModelIntegrityError, match="HTML/text error page saved as a model"):
            validate_model_file(_write(tmp_path, page))


def test_gguf_file_asks_for_the_legacy_ggml_format(tmp_path):
    data = b"GGUF" + struct.pack("<IQQ", 3, 0, 0) + bytes(64)
    with pytest.raises(ModelIntegrityError, match="GGUF file; whisper.cpp needs its legacy ggml"):
        validate_model_file(_write(tmp_path, data))


def test_git_lfs_pointer_is_named(tmp_path):
    data = b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 12\n"
    with pytest.raises(ModelIntegrityError, match="Git LFS pointer"):
        validate_model_file(_write(tmp_path, data))


def test_wrong_magic(tmp_path, micro_bytes):
    with pytest.raises(ModelIntegrityError, match=r"bad magic b'ggjt'"):
        validate_model_file(_write(tmp_path, b"ggjt" + micro_bytes[4:]))


@pytest.mark.parametrize(("index", "value", "message"), [
    (0, 0, "n_vocab=0 is outside 1..1000000"),
    (0, -5, "n_vocab=-5 is outside"),
    (1, 10**9, "n_audio_ctx=1000000000 is outside 1..100000"),
    (3, 3, "n_audio_head=3 does not divide n_audio_state=64"),
    (4, 5000, "n_audio_layer=5000 is outside 1..1000"),
    (7, 0, "n_text_head=0 is outside 1..1024"),
    (9, 4096, "n_mels=4096 is outside 1..1024"),
    (10, 5, "ftype=5 is not a known ggml file type"),
    (10, -1, "ftype=-1 is not a known"),
])
def test_absurd_header_fields(tmp_path, micro_bytes, index, value, message):
    data = _patch(micro_bytes, 4 + 4 * index, "<i", value)
    with pytest.raises(ModelIntegrityError, match=message):
        validate_model_file(_write(tmp_path, data))


def test_absurd_mel_filter_shape(tmp_path, micro_bytes):
    data = _patch(micro_bytes, 48, "<2i", 80, -1)
    with pytest.raises(ModelIntegrityError, match="mel filter shape 80x-1"):
        validate_model_file(_write(tmp_path, data))


def test_vocabulary_larger_than_n_vocab(tmp_path, micro_bytes):
    n_mel, n_fft = struct.unpack_from("<2i", micro_bytes, 48)
    data = _patch(micro_bytes, HEADER_END + 4 * n_mel * n_fft, "<i", 51865)
    with pytest.raises(ModelIntegrityError, match="vocabulary has 51865 tokens, outside 0..n_vocab=51864"):
        validate_model_file(_write(tmp_path, data))


def test_absurd_token_length(tmp_path, micro_bytes):
    n_mel, n_fft = struct.unpack_from("<2i", micro_bytes, 48)
    first_token = HEADER_END + 4 * n_mel * n_fft + 4
    data = _patch(micro_bytes, first_token, "<I", 70_000)
    with pytest.raises(ModelIntegrityError, match="vocabulary token 0 claims 70000 bytes"):
        validate_model_file(_write(tmp_path, data))


def test_tensor_entry_errors(tmp_path, micro_bytes):
    table = tensor_table(_write(tmp_path, micro_bytes, "full.bin"))
    at = table[0][1]  # encoder.positional_embedding, 2 dims
    cases = [
        (_patch(micro_bytes, at + 8, "<i", 5), "unknown ggml type 5"),
        (_patch(micro_bytes, at + 8, "<i", 99), "unknown ggml type 99"),
        (_patch(micro_bytes, at, "<i", 0), "n_dims=0, outside 1..4"),
        (_patch(micro_bytes, at + 4, "<i", 0), "name of 0 bytes"),
        (_patch(micro_bytes, at + 12, "<i", 0), r"invalid shape \[0, "),
        # A shape far larger than the file: the table no longer matches the size.
        (_patch(micro_bytes, at + 16, "<i", 10**8), "does not match the file size"),
    ]
    for data, message in cases:
        with pytest.raises(ModelIntegrityError, match=message):
            validate_model_file(_write(tmp_path, data))


def test_unexpected_and_duplicate_tensor_names(tmp_path, micro_bytes):
    table = tensor_table(_write(tmp_path, micro_bytes, "full.bin"))
    name0, at0, data0, _ = table[0]
    renamed = bytearray(micro_bytes)
    renamed[data0 - len(name0):data0] = b"X" + name0.encode()[1:]
    with pytest.raises(ModelIntegrityError, match="unexpected tensor 'Xncoder"):
        validate_model_file(_write(tmp_path, bytes(renamed)))
    entry0 = micro_bytes[at0:data0 + table[0][3]]
    with pytest.raises(ModelIntegrityError, match=f"tensor '{name0}' appears twice"):
        validate_model_file(_write(tmp_path, micro_bytes + entry0))


def _header_with(data: bytes, field: str, value: int) -> bytes:
    index = ("n_vocab", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer",
             "n_text_ctx", "n_text_state", "n_text_head", "n_text_layer", "n_mels",
             "ftype").index(field)
    return _patch(data, 4 + 4 * index, "<i", value)


@pytest.mark.parametrize(("field", "value", "tensor", "implied", "found"), [
    ("n_vocab", 51865, "decoder.token_embedding.weight", [64, 51865], [64, 51864]),
    ("n_text_ctx", 500, "decoder.positional_embedding", [64, 500], [64, 448]),
    ("n_audio_ctx", 1000, "encoder.positional_embedding", [64, 1000], [64, 1500]),
])
def test_tensor_shape_that_disagrees_with_the_header_is_refused(tmp_path, micro_bytes, field,
                                                                value, tensor, implied, found):
    # whisper.cpp refuses these at load ("wrong size in model file"); lumina names the tensor,
    # the shape the header implies and the shape the file holds, before whisper.cpp runs.
    data = _header_with(micro_bytes, field, value)
    with pytest.raises(ModelIntegrityError) as err:
        validate_model_file(_write(tmp_path, data))
    assert (f"tensor '{tensor}' has shape {found} but the header implies {implied} "
            in str(err.value))
    assert f"{field}={value}" in str(err.value)


def test_tensor_stored_in_the_wrong_type_is_refused(tmp_path, micro_bytes):
    # encoder.conv1.weight stored as f32 in an f16 file: whisper.cpp expects f16 there.
    table = tensor_table(_write(tmp_path, micro_bytes, "full.bin"))
    name, at, data_at, nbytes = next(t for t in table if t[0] == "encoder.conv1.weight")
    as_f32 = np.frombuffer(micro_bytes[data_at:data_at + nbytes], "<f2").astype("<f4").tobytes()
    entry = _patch(micro_bytes[at:data_at], 8, "<i", 0)
    data = micro_bytes[:at] + entry + as_f32 + micro_bytes[data_at + nbytes:]
    with pytest.raises(ModelIntegrityError,
                       match="tensor 'encoder.conv1.weight' is stored as f32 but whisper.cpp "
                             r"expects f16 in a f16 file \(ftype=1\)"):
        validate_model_file(_write(tmp_path, data))


def all_f32_copy(src: Path, dst: Path) -> Path:
    """Rewrite an f16 model as an all-f32 one (ftype 0, every f16 tensor widened), as
    whisper.cpp's converter does with use-f32; lumina.testing no longer writes such files."""
    data = src.read_bytes()
    table = tensor_table(src)
    out = bytearray(_header_with(data[:table[0][1]], "ftype", 0))
    for _, at, data_at, nbytes in table:
        head = data[at:data_at]
        body = data[data_at:data_at + nbytes]
        if struct.unpack_from("<i", head, 8)[0] == 1:
            head = _patch(head, 8, "<i", 0)
            body = np.frombuffer(body, "<f2").astype("<f4").tobytes()
        out += head + body
    dst.write_bytes(bytes(out))
    return dst


def test_all_f32_model_is_refused_with_what_to_use_instead(tmp_path, micro):
    path = all_f32_copy(micro, tmp_path / "f32.bin")
    with pytest.raises(ModelIntegrityError,
                       match=r"all-f32 model \(ftype=0\), which whisper.cpp 1.8.5 cannot run.*"
                             r"Use an f16 or quantized file"):
        validate_model_file(path)
    with pytest.raises(ModelIntegrityError, match="all-f32 model"):
        ModelStore(tmp_path).find(path)


def test_whisper_cpp_still_aborts_on_an_all_f32_model(tmp_path, micro):
    # Why the refusal above exists: whisper.cpp loads the file, then aborts the process at the
    # first inference. Run in a child so the abort cannot take pytest with it. When a newer
    # whisper.cpp runs f32 models, this fails and the refusal can go.
    path = all_f32_copy(micro, tmp_path / "f32.bin")
    code = ("import numpy as np\n"
            "from lumina.asr.backend import DecodeOptions, WhisperModel\n"
            f"m = WhisperModel({str(path)!r})\n"
            "print('loaded', flush=True)\n"
            "m.run(np.zeros(16000, np.float32), DecodeOptions(n_threads=1))\n"
            "print('survived', flush=True)\n")
    env = child_env(GGML_NO_BACKTRACE="1")
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, timeout=120, cwd=tmp_path)
    assert child.returncode == -signal.SIGABRT
    assert child.stdout == "loaded\n"
    assert "GGML_ASSERT(src0->type == GGML_TYPE_F16) failed" in child.stderr


def test_engine_reports_a_header_tensor_mismatch_as_integrity_error(tmp_path, micro_bytes):
    # Before the validator checked shapes, whisper.cpp refused the file and lumina said BackendError.
    from lumina import Engine

    path = _write(tmp_path, _header_with(micro_bytes, "n_vocab", 51865))
    with Engine(path, warmup=False, preload=False) as engine:
        with pytest.raises(ModelIntegrityError, match="decoder.token_embedding.weight"):
            engine.wait_ready()


def test_trailing_garbage_is_rejected(tmp_path, micro_bytes):
    with pytest.raises(ModelIntegrityError, match="truncated in the tensor table"):
        validate_model_file(_write(tmp_path, micro_bytes + b"\0" * 7))


def test_a_directory_is_not_a_model(tmp_path):
    with pytest.raises(ModelIntegrityError, match="not a regular file"):
        validate_model_file(tmp_path)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_raise_only_integrity_errors(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("g") / "g.bin"
    p.write_bytes(data)
    with pytest.raises(ModelIntegrityError):
        validate_model_file(p)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 3000), st.binary(min_size=1, max_size=256))
def test_corrupted_header_region_raises_only_integrity_errors(micro_bytes, tmp_path_factory,
                                                              at, junk):
    # Garbage written over the header, filters or vocabulary start, file cut after it.
    data = micro_bytes[:at] + junk
    p = tmp_path_factory.mktemp("c") / "c.bin"
    p.write_bytes(data)
    with pytest.raises(ModelIntegrityError):
        validate_model_file(p)


def test_validation_never_reads_tensor_data(micro, monkeypatch):
    # Reads larger than the vocabulary chunk would mean tensor data is loaded.
    import io

    sizes = []
    real_read = io.BufferedReader.read

    class Spy(io.BufferedReader):
        def read(self, n=-1):
            sizes.append(n)
            return real_read(self, n)

    real_open = open
    monkeypatch.setattr(_modelfile, "open", lambda p, m: Spy(real_open(p, "rb", buffering=0)),
                        raising=False)
    validate_model_file(micro)
    assert sizes and max(sizes) <= _modelfile._VOCAB_CHUNK
    assert -1 not in sizes


# -- registry -----------------------------------------------------------------------

def test_registry_entries_follow_the_hub_naming():
    assert len(REGISTRY) == 28
    tiny_en = REGISTRY["tiny.en"]
    assert tiny_en.filename == "ggml-tiny.en.bin"
    assert tiny_en.url == "https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-tiny.en.bin"
    assert tiny_en.sha1 == "c78c86eb1a8faa21b369bcd33207cc90d64ae9df"
    assert (tiny_en.arch, tiny_en.english_only, tiny_en.quantization) == ("tiny", True, "f16")
    q = REGISTRY["large-v3-turbo-q5_0"]
    assert (q.arch, q.english_only, q.quantization) == ("large-v3-turbo", False, "q5_0")
    assert q.sha1 == "e050f7970618a659205450ad97eb95a18d69c9ee"
    b = REGISTRY["base.en-q5_1"]
    assert (b.arch, b.english_only, b.quantization, b.sha1) == ("base", True, "q5_1", None)
    assert all(e.filename == f"ggml-{n}.bin" and not e.size_exact for n, e in REGISTRY.items())
    assert sum(e.sha1 is not None for e in REGISTRY.values()) == 15


def test_registry_is_read_only():
    with pytest.raises(TypeError):
        REGISTRY["x"] = REGISTRY["tiny"]


def test_public_names_are_exported():
    for name in ("ModelStore", "ModelInfo", "validate_model_file"):
        assert name in lumina.__all__ and getattr(lumina, name) is getattr(lumina.models, name)
    assert "REGISTRY" in lumina.models.__all__ and "REGISTRY" not in lumina.__all__  # plumbing


# -- store lookups --------------------------------------------------------------------

def test_root_comes_from_lumina_home_and_offline_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("LUMINA_HOME", str(tmp_path))
    monkeypatch.setenv("LUMINA_OFFLINE", "1")
    store = ModelStore()
    assert store.root == tmp_path / "models"
    assert store.offline is True
    assert store.path("base.en") == tmp_path / "models" / "ggml-base.en.bin"
    monkeypatch.setenv("LUMINA_OFFLINE", "0")
    assert ModelStore().offline is False
    assert ModelStore(offline=True).offline is True


def test_default_root_is_the_user_cache(monkeypatch):
    import platformdirs

    monkeypatch.delenv("LUMINA_HOME", raising=False)
    assert ModelStore().root == Path(platformdirs.user_cache_dir("lumina")) / "models"


def test_url_base_and_api_url_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("LUMINA_MODEL_URL_BASE", "http://mirror.example/models/")
    monkeypatch.delenv("LUMINA_MODEL_API_URL", raising=False)
    store = ModelStore(tmp_path)
    assert store.url("tiny") == "http://mirror.example/models/ggml-tiny.bin"
    assert store.api_url is None  # a mirror has no hub listing
    monkeypatch.delenv("LUMINA_MODEL_URL_BASE")
    assert ModelStore(tmp_path).api_url == lumina.models.registry.DEFAULT_API_URL


def test_find_missing_model_says_which_file_goes_where(tmp_path):
    store = ModelStore(tmp_path, offline=True)
    with pytest.raises(ModelNotFoundError) as err:
        store.find("base.en")
    msg = str(err.value)
    assert "ggml-base.en.bin" in msg
    assert f"in the directory {tmp_path}" in msg
    assert "https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-base.en.bin" in msg
    assert "lumina models download base.en" in msg


def test_find_unknown_name_lists_known_models(tmp_path):
    with pytest.raises(ModelNotFoundError, match="unknown model 'tiny.fr'; known models: tiny, "):
        ModelStore(tmp_path).find("tiny.fr")


def test_find_path_validates_the_file(tmp_path, micro):
    store = ModelStore(tmp_path)
    assert store.find(micro) == micro
    assert store.find(str(micro)) == micro
    with pytest.raises(ModelNotFoundError, match="no model file at"):
        store.find(tmp_path / "ggml-x.bin")
    with pytest.raises(ModelIntegrityError, match="HTML"):
        store.find(_write(tmp_path, b"<html>", "page.bin"))


def _install(store: ModelStore, name: str, data: bytes) -> Path:
    dest = store.path(name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return dest


def test_find_checks_the_published_hash_once_then_trusts_the_stamp(tmp_path, micro_bytes,
                                                                   monkeypatch):
    from _models_util import entry_for

    store = ModelStore(tmp_path, registry={"m": entry_for("m", micro_bytes)})
    dest = _install(store, "m", micro_bytes)
    calls = []
    real = _hashing.file_digests
    monkeypatch.setattr(_hashing, "file_digests", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert store.find("m") == dest
    assert store.find("m") == dest
    assert len(calls) == 1  # second lookup: unchanged size and mtime, no re-hash


def test_find_rejects_a_tampered_file_with_the_same_size(tmp_path, micro_bytes):
    from _models_util import entry_for

    store = ModelStore(tmp_path, registry={"m": entry_for("m", micro_bytes)})
    dest = _install(store, "m", micro_bytes)
    assert store.find("m") == dest
    data = bytearray(micro_bytes)
    data[-1] ^= 0xFF  # a flipped bit in the last tensor: structure still valid
    dest.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="SHA-1 is"):
        store.find("m")


def test_verify_rehashes_and_reports(tmp_path, micro_bytes):
    from _models_util import entry_for

    store = ModelStore(tmp_path, registry={"m": entry_for("m", micro_bytes)})
    _install(store, "m", micro_bytes)
    info = store.verify("m")
    assert info.sha1 == hashlib.sha1(micro_bytes).hexdigest()
    assert info.n_tensors == 50
    with pytest.raises(ModelNotFoundError, match="'tiny' is not installed"):
        ModelStore(tmp_path).verify("tiny")


def test_verify_without_published_hash_uses_the_stamp_sha256(tmp_path, micro_bytes):
    from _models_util import entry_for

    store = ModelStore(tmp_path, registry={"m": entry_for("m", micro_bytes, sha1=None)})
    dest = _install(store, "m", micro_bytes)
    assert store.verify("m").sha256 is None  # nothing to compare with yet
    _modelfile_stamp = dest.with_name(dest.name + ".verified")
    _modelfile_stamp.write_text('{"sha256": "' + "a" * 64 + '"}')
    with pytest.raises(ModelIntegrityError, match="SHA-256 is [0-9a-f]{64} but a{64} was expected"):
        store.verify("m")


def test_list_and_remove(tmp_path, micro_bytes):
    store = ModelStore(tmp_path)
    assert all(not s.installed and s.size_on_disk is None for s in store.list())
    assert store.remove("tiny") is False
    dest = _install(store, "tiny", micro_bytes)
    dest.with_name(dest.name + ".partial").write_bytes(b"x")
    status = {s.name: s for s in store.list()}
    assert status["tiny"].installed and status["tiny"].size_on_disk == len(micro_bytes)
    assert status["tiny"].path == dest
    assert [s.name for s in store.list()] == list(REGISTRY)
    assert store.remove("tiny") is True
    assert not dest.exists() and not dest.with_name(dest.name + ".partial").exists()
    assert not status["base"].installed
