"""lumina.testing writes real whisper.cpp model files with random weights."""

import hashlib
import struct

import numpy as np
import pytest

from lumina.errors import ArgumentError
from lumina.models import synthetic
from lumina.testing import FTYPES, SHAPES, make_model, mel_filterbank, quantize_q8_0


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


@pytest.mark.parametrize("ftype, code, size", [("f16", 1, 7_924_523), ("q8_0", 2007, 4_705_163)])
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
    assert FTYPES == ("f16", "q8_0")
    with pytest.raises(ArgumentError, match=r"unknown ftype 'f32'; choose one of \['f16', 'q8_0'\] "
                                            r"\(whisper.cpp cannot run all-f32 models; use 'f16'\)"):
        make_model(tmp_path / "m.bin", "micro", "f32")
    with pytest.raises(SystemExit):
        synthetic.main(["micro", str(tmp_path / "m.bin"), "--ftype", "f32"])
    assert list(tmp_path.iterdir()) == []


def test_mel_filterbank_sr_is_a_deprecated_alias():
    with pytest.warns(DeprecationWarning, match=r"mel_filterbank\(sr=...\) is deprecated.*use sample_rate="):
        old = mel_filterbank(80, sr=8000)
    np.testing.assert_array_equal(old, mel_filterbank(80, sample_rate=8000))
    with pytest.raises(ArgumentError, match="got both sr= and sample_rate="):
        mel_filterbank(80, sr=8000, sample_rate=8000)


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
