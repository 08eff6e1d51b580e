"""lumina.testing writes real whisper.cpp model files with random weights."""

import hashlib
import struct

import numpy as np
import pytest

from lumina.errors import ArgumentError
from lumina.models import synthetic
from lumina.testing import DECODINGS, FTYPES, LENGTHS, SHAPES, make_model, mel_filterbank, quantize_q8_0
from lumina.models.ggml_writer import quantize_q5_1


def _header(path):
    with open(path, "rb") as f:
        return struct.unpack("<I11i", f.read(48))


def test_header_holds_the_shape_of_the_named_model(tmp_path):
    path = make_model(tmp_path / "m.bin", "micro")
    magic, *fields = _header(path)
    shape = SHAPES["micro"]
    assert magic == 0x67676D6C
    assert fields == [shape.n_vocab, 1500, 64, 2, 1, 448, 64, 2, 1, 80, 1]


def test_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path):
    digest = [hashlib.sha256(make_model(tmp_path / f"{i}.bin", seed=s).read_bytes()).hexdigest()
              for i, s in enumerate([0, 0, 1])]
    assert digest[0] == digest[1] != digest[2]


@pytest.mark.parametrize("ftype, code, size", [("f16", 1, 7_924_523), ("q8_0", 2007, 4_705_163),
                                               ("q5_1", 2009, 3_632_043)])
def test_ftypes_store_the_expected_bytes(tmp_path, ftype, code, size):
    path = make_model(tmp_path / "m.bin", "micro", ftype)
    assert _header(path)[-1] == code
    assert path.stat().st_size == size


def test_tiny_en_has_the_size_of_the_published_model(tmp_path):
    # ggml-tiny.en.bin is 77,704,715 bytes; the difference is the vocabulary text.
    size = make_model(tmp_path / "t.bin", "tiny.en").stat().st_size
    assert size == 77_609_703


def test_unknown_arch_and_ftype_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown arch 'huge'"):
        make_model(tmp_path / "m.bin", "huge")
    with pytest.raises(ValueError, match="unknown ftype 'q4_k'"):
        make_model(tmp_path / "m.bin", "micro", "q4_k")
    assert list(tmp_path.iterdir()) == []


def test_f32_is_no_longer_offered(tmp_path):
    # whisper.cpp 1.8.5 aborts the process on all-f32 models; lumina.testing must not write one.
    assert FTYPES == ("f16", "q8_0", "q5_1")
    with pytest.raises(ArgumentError, match=r"unknown ftype 'f32'; choose one of \['f16', 'q5_1', 'q8_0'\] "
                                            r"\(whisper.cpp cannot run all-f32 models; use 'f16'\)"):
        make_model(tmp_path / "m.bin", "micro", "f32")
    with pytest.raises(SystemExit):
        synthetic.main(["micro", str(tmp_path / "m.bin"), "--ftype", "f32"])
    assert list(tmp_path.iterdir()) == []


def test_mel_filterbank_rows_are_triangles_with_unit_area_in_mel():
    filters = mel_filterbank(80)
    assert filters.shape == (80, 201)
    assert (filters >= 0).all()
    peaks = filters.argmax(axis=1)
    assert (np.diff(peaks) >= 0).all()  # filters rise in frequency
    assert (filters > 0).sum(axis=1).min() >= 1


def test_q8_0_blocks_round_trip_within_half_a_step():
    data = np.random.default_rng(3).standard_normal(64).astype(np.float32)
    raw = np.frombuffer(quantize_q8_0(data), dtype=[("d", "<f2"), ("q", "i1", 32)])
    decoded = (raw["d"].astype(np.float32)[:, None] * raw["q"]).reshape(-1)
    step = np.repeat(raw["d"].astype(np.float32), 32)
    assert len(raw) == 2
    assert (np.abs(decoded - data) <= step * 0.51 + 1e-6).all()


def test_q5_1_blocks_round_trip_within_half_a_step():
    data = np.random.default_rng(4).standard_normal(96).astype(np.float32)
    raw = np.frombuffer(quantize_q5_1(data),
                        dtype=[("d", "<f2"), ("m", "<f2"), ("qh", "<u4"), ("qs", "u1", 16)])
    low = np.concatenate([raw["qs"] & 0x0F, raw["qs"] >> 4], axis=1).astype(np.uint32)
    fifth = (raw["qh"][:, None] >> np.arange(32, dtype=np.uint32)) & 1
    q = low | (fifth << 4)
    d, m = raw["d"].astype(np.float32), raw["m"].astype(np.float32)
    decoded = (d[:, None] * q + m[:, None]).reshape(-1)
    assert len(raw) == 3 and q.max() == 31 and q.min() == 0
    assert (np.abs(decoded - data) <= np.repeat(d, 32) * 0.51 + 2e-3).all()


def test_decoding_and_lengths_default_to_the_model_written_before(tmp_path):
    plain = make_model(tmp_path / "plain.bin", "micro").read_bytes()
    explicit = make_model(tmp_path / "explicit.bin", "micro", decoding="confident", lengths="short")
    assert explicit.read_bytes() == plain
    assert DECODINGS == ("confident", "unsure") and LENGTHS == ("short", "realistic")


def test_unsure_and_realistic_change_only_what_they_name(tmp_path):
    # Same size and the same random draw; unsure scales the final norm, realistic edits tensors.
    plain = make_model(tmp_path / "plain.bin", "micro").read_bytes()
    unsure = make_model(tmp_path / "unsure.bin", "micro", decoding="unsure").read_bytes()
    realistic = make_model(tmp_path / "real.bin", "micro", lengths="realistic").read_bytes()
    assert len(plain) == len(unsure) == len(realistic)
    differing = [sum(a != b for a, b in zip(plain, other, strict=True)) for other in (unsure, realistic)]
    assert 0 < differing[0] < 600  # 2 x 64 float32 of the final norm
    assert differing[1] > differing[0]


@pytest.mark.parametrize("option, value, message", [
    ("decoding", "doubtful", r"unknown decoding 'doubtful'; choose one of \['confident', 'unsure'\]"),
    ("lengths", "long", r"unknown lengths 'long'; choose one of \['short', 'realistic'\]"),
])
def test_unknown_decoding_or_lengths_is_refused(tmp_path, option, value, message):
    with pytest.raises(ArgumentError, match=message):
        make_model(tmp_path / "m.bin", "micro", **{option: value})
    assert list(tmp_path.iterdir()) == []


def test_command_line_writes_unsure_realistic_models(tmp_path, capsys):
    out = tmp_path / "m.bin"
    assert synthetic.main(["micro", str(out), "--decoding", "unsure", "--lengths", "realistic"]) == 0
    expected = make_model(tmp_path / "e.bin", "micro", decoding="unsure", lengths="realistic")
    assert out.read_bytes() == expected.read_bytes()
