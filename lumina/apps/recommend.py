"""``lumina models recommend``: which model this machine runs within a latency budget, and why.

Prints what :func:`lumina.choose_model` sees: the machine the predictions are
for, the job and budget, one row per candidate (predicted time on this
machine, whether it fits) and the pick with its reason. Exit status 0 with a
pick, 1 when nothing usable fits.
"""

from __future__ import annotations

import argparse
import sys

from lumina.asr.choice.choose import ModelPick, choose_model, size_text
from lumina.asr.choice.jobs import JOBS, PRESETS
from lumina.models.store import ModelStore

__all__ = ["add_recommend_parser", "recommend_lines", "run_recommend"]


def add_recommend_parser(actions: argparse._SubParsersAction) -> None:
    """Add ``recommend`` to ``lumina models``' actions."""
    rec = actions.add_parser(
        "recommend", help="the most accurate model this machine runs within a latency budget",
        description="Predict each candidate model's time for a job on this machine (measured once, "
                    "10-40 s per model family and storage type on two cores, cached in the model "
                    "store) and pick the most accurate one within the budget. Accuracy is ranked by "
                    "size, then .en for English, then f16 > q8_0 > q5_1 (a prior, not a measurement).")
    rec.add_argument("--latency", default="dictation", type=_latency, metavar="PRESET|MS",
                     help=f"{'|'.join(PRESETS)} (default dictation: a 5 s sentence's Final within "
                          "1 s), or milliseconds per call (per 30 s window for --job file)")
    rec.add_argument("--job", choices=list(JOBS),
                     help="what the budget is for (default: the preset's, else dictation)")
    rec.add_argument("--language", default="en", help="spoken language (default en)")
    rec.add_argument("--threads", type=int, help="threads per inference (default: the usable CPUs, at most 4)")
    rec.add_argument("--device", default="auto", help="auto, cpu, gpu, cuda, vulkan or metal")
    rec.add_argument("--installed-only", action="store_true",
                     help="pick among installed models only (others are still listed)")
    rec.add_argument("--remeasure", action="store_true", help="measure this machine again")


def _latency(text: str):
    if text in PRESETS:
        return text
    try:
        ms = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected {', '.join(PRESETS)} or a number of milliseconds, got {text!r}") from None
    if not ms > 0:
        raise argparse.ArgumentTypeError(f"the budget must be > 0 ms, got {text!r}")
    return ms


def run_recommend(args: argparse.Namespace, store: ModelStore) -> int:
    """Run ``lumina models recommend`` with parsed ``args``; print the table."""
    latency = args.latency
    if not isinstance(latency, str):  # milliseconds per call; the file job's budget is an RTF
        seconds = latency / 1000
        latency = seconds / JOBS["file"].audio_seconds if args.job == "file" else seconds
    choice = choose_model(latency, job=args.job, language=args.language, store=store,
                          device=args.device, threads=args.threads,
                          download=False if args.installed_only else None,
                          remeasure=args.remeasure,
                          progress=lambda line: print(f"lumina: {line}", file=sys.stderr, flush=True))
    for line in recommend_lines(choice):
        print(line)
    return 0 if choice.name is not None else 1


def recommend_lines(choice: ModelPick) -> list[str]:
    """The lines ``lumina models recommend`` prints for ``choice``."""
    job = choice.job
    lines = [f"machine: {choice.machine}",
             f"job: {job.description}; budget {job.budget_text(choice.budget)}"]
    header = ("MODEL", "ARCH", "QUANT", "SIZE", "INSTALLED", "PREDICTED", "FITS")
    rows = []
    for e in choice.estimates:
        c = e.candidate
        predicted = job.format_seconds(e.seconds) if e.seconds is not None else e.note.split(" (")[0] or "?"
        fits = "?" if e.fits is None else ("yes" if e.fits else "no")
        if c.name == choice.name:
            fits += " <- pick"
        rows.append((c.name, c.architecture, c.quantization, size_text(c.size, exact=c.size_exact),
                     "yes" if c.installed else "no", predicted, fits))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    lines.append(f"pick: {choice.reason}" if choice.name is not None else f"no pick: {choice.reason}")
    return lines
