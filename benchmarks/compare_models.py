"""Model-file check: lumina's header walk vs reading or hashing the whole file.

Run without asv::

    python benchmarks models

Baselines are what a loader does without a structural check: hash the file
(``hashlib.sha256`` in 1 MiB chunks, what pywhispercpp's downloader does
not do and a careful user would) or read it all into memory.
"""

from __future__ import annotations

import tempfile
from pathlib import Path


from benchmarks._helpers import median_time
from benchmarks.bench_models import _sha256  # one definition of the baseline

from lumina.models import validate_model_file
from lumina.testing import make_model


def _median_ms(fn, path: Path, repeat: int) -> float:
    fn(path)  # warm the page cache: every contender reads from memory
    return median_time(lambda: fn(path), repeat) * 1e3


def main(argv: list[str] | None = None) -> int | None:
    contenders = {
        "lumina validate_model_file": validate_model_file,
        "baseline sha256 of file": _sha256,
        "baseline read whole file": lambda p: len(p.read_bytes()),
    }
    with tempfile.TemporaryDirectory() as d:
        print(f"{'model':<10} {'size MiB':>9}  {'contender':<28} {'median ms':>10}")
        for arch in ("micro", "tiny.en"):
            path = make_model(Path(d) / f"ggml-{arch}.bin", arch=arch)
            mib = path.stat().st_size / 2**20
            for label, fn in contenders.items():
                ms = _median_ms(fn, path, repeat=7)
                print(f"{arch:<10} {mib:>9.1f}  {label:<28} {ms:>10.2f}")

