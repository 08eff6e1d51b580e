"""``lumina transcribe --ray [ADDRESS] FILES_OR_DIRS... --output DIR``: the command-line side."""

from __future__ import annotations

import argparse
import re
import sys

from tqdm import tqdm

from lumina.apps.distributed.archive import transcribe_archive
from lumina.apps.distributed.records import ArchiveReport, FileResult

__all__ = ["add_ray_options", "run_command", "split_address", "summary"]

_HOST_PORT = re.compile(r"[\w.\-]+:\d+|\[[0-9a-fA-F:.]+\]:\d+")


def add_ray_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--ray [ADDRESS]`` and its options to the ``transcribe`` parser."""
    group = parser.add_argument_group(
        "on a Ray cluster", "pip install 'lumina[ray]'; FILEs may be directories (walked for "
        "audio files, sub-folders mirrored under --output); outputs that exist are complete "
        "and skipped. See docs/scaling.md.")
    group.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                       help="run on the Ray cluster at ADDRESS: auto, HOST:PORT or "
                            "ray://HOST:PORT (without one: RAY_ADDRESS, else a cluster started on "
                            "this machine, else a new local one); needs --output. A value that "
                            "is not an address is taken as the first FILE")
    group.add_argument("--actors", type=int, metavar="N",
                       help="workers, one engine each (default: as many as the cluster fits)")
    group.add_argument("--cpus-per-actor", type=float, default=1.0, metavar="N",
                       help="CPUs each worker reserves (default 1; also its threads)")
    group.add_argument("--gpus-per-actor", type=float, default=0.0, metavar="N",
                       help="GPUs each worker reserves (default 0)")
    group.add_argument("--overwrite", action="store_true",
                       help="transcribe again files whose output exists")


def split_address(value: str, files: list[str]) -> tuple[str | None, list[str]]:
    """The cluster address and the inputs from ``--ray VALUE FILE...``.

    ``--ray`` takes an optional value, so ``--ray recordings/`` would make the
    folder the address: a value that is not an address (``auto``, ``local``,
    ``HOST:PORT``, ``ray://...``) is the first input instead.
    """
    if value == "":
        return None, files
    if value in ("auto", "local") or "://" in value or _HOST_PORT.fullmatch(value):
        return value, files
    return None, [value, *files]


def run_command(args: argparse.Namespace) -> int:
    """Run ``lumina transcribe --ray``; print each written file, errors and a summary."""
    if not args.output:
        print("lumina: error: --ray needs --output DIR (transcripts are written as files)",
              file=sys.stderr)
        return 2
    address, inputs = split_address(args.ray, list(args.files))
    if not inputs:
        print("lumina: error: no FILE or DIR to transcribe", file=sys.stderr)
        return 2
    report = transcribe_archive(
        inputs, args.output, model=args.model, fmt=args.fmt, speed=args.speed,
        language=args.language, device=args.device, threads=args.threads, address=address,
        actors=args.actors, cpus_per_actor=args.cpus_per_actor,
        gpus_per_actor=args.gpus_per_actor, overwrite=args.overwrite, on_result=_print_result)
    print(summary(report), file=sys.stderr)
    return 0 if report.ok else 1


def _print_result(result: FileResult) -> None:
    if result.ok:
        tqdm.write(result.target, file=sys.stdout)
    else:
        tqdm.write(f"lumina: error: {result.error}", file=sys.stderr)


def summary(report: ArchiveReport) -> str:
    """One line: counts, audio hours, time, and what the faults cost."""
    line = (f"lumina: {len(report.written)} written, {len(report.skipped)} skipped (complete), "
            f"{len(report.failed)} failed; {report.audio_seconds / 3600:.2f} h of audio in "
            f"{report.seconds:.1f} s")
    if report.workers_lost:
        line += f"; {report.workers_lost} workers lost, {report.retries} files retried"
    return line
