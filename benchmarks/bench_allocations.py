"""asv: allocations per second of streamed audio on the per-chunk path (counts, not timings).

The counts come from ``compare_allocations.py``'s child process: every malloc,
calloc and realloc call of the process under ``PYTHONMALLOC=malloc`` with a
counting shim preloaded (built with ``cc``; without a C compiler these
benchmarks are skipped). The baseline (the code before the per-chunk path
stopped allocating sample buffers) is measured by the script against another
revision: ``python benchmarks allocations --baseline REV``.
"""

import pathlib
import tempfile

from benchmarks import compare_allocations as ca

SECONDS = 5.0


class PerChunkPath:
    params = list(ca.CONTENDERS)
    param_names = ["path"]
    timeout = 300

    def setup_cache(self):
        with tempfile.TemporaryDirectory(prefix="lumina-asv-alloc-") as tmp:
            try:
                shim = ca.build_shim(pathlib.Path(tmp))
            except (RuntimeError, OSError):
                return None
            return ca.measure(shim, None, SECONDS)

    def setup(self, counts, path):
        if counts is None:
            raise NotImplementedError("no C compiler to build the allocation counter")

    def track_allocations_per_audio_second(self, counts, path):
        return counts[path][0]

    track_allocations_per_audio_second.unit = "allocations/s"

    def track_bytes_per_audio_second(self, counts, path):
        return counts[path][1]

    track_bytes_per_audio_second.unit = "bytes/s"

    def track_buffers_per_audio_second(self, counts, path):
        """Allocations of 1 KiB or more (sample buffers) per second of audio."""
        return counts[path][2]

    track_buffers_per_audio_second.unit = "allocations/s"
