"""The ``lumina`` command.

Each sub-command lives in one small function ``_cmd_<name>`` that gets the
parsed arguments and returns an exit code.  Errors lumina knows about
(:class:`~lumina.errors.LuminaError`) print one line and exit 1; they never
print a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import lumina
from lumina.errors import LuminaError


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``lumina`` command."""
    parser = argparse.ArgumentParser(
        prog="lumina", description="Local, private speech-to-text.")
    parser.add_argument("--version", action="version", version=f"lumina {lumina.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_subcommands(sub)
    return parser


def _add_subcommands(sub: argparse._SubParsersAction) -> None:
    """Register every sub-command (one ``add_parser`` block each)."""
    info = sub.add_parser("info", help="show format, length and peak level of audio files")
    info.add_argument("files", nargs="+", metavar="FILE")
    info.set_defaults(handler=_cmd_info)


def _cmd_info(args: argparse.Namespace) -> int:
    """Print one line per file; a bad file prints an error line and makes the exit code 1."""
    status = 0
    for path in args.files:
        try:
            info = lumina.audio_info(path)
        except (LuminaError, OSError) as exc:
            print(f"lumina: error: {path}: {exc}", file=sys.stderr)
            status = 1
            continue
        plural = "" if info.channels == 1 else "s"
        print(f"{path}: {info.format} {info.subtype}, {info.sample_rate} Hz, "
              f"{info.channels} channel{plural}, {info.duration:.2f} s, "
              f"peak {info.peak_dbfs:.2f} dBFS")
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lumina`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except LuminaError as exc:
        print(f"lumina: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
