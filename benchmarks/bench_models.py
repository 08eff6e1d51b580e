"""asv: model-file validation vs hashing / reading the whole file."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lumina.models import validate_model_file

from benchmarks._helpers import model_path


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class ValidateModel:
    params = [["micro", "tiny.en"]]
    param_names = ["arch"]
    timeout = 300

    def setup_cache(self):
        return {arch: str(model_path(arch)) for arch in self.params[0]}

    def setup(self, paths, arch):
        self.path = Path(paths[arch])

    def time_validate(self, paths, arch):
        validate_model_file(self.path)

    def time_baseline_sha256(self, paths, arch):
        _sha256(self.path)

    def time_baseline_read_all(self, paths, arch):
        self.path.read_bytes()

    def peakmem_validate(self, paths, arch):
        validate_model_file(self.path)

    def peakmem_baseline_read_all(self, paths, arch):
        self.path.read_bytes()

    def track_n_tensors(self, paths, arch):
        return validate_model_file(self.path).n_tensors
