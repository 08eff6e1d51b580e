"""``lumina models list|download|import|verify|path|remove|random|recommend``: the model store from a shell."""

from __future__ import annotations

import argparse
import sys

from lumina.apps.recommend import add_recommend_parser, run_recommend
from lumina.models.imports import QUANTIZATIONS
from lumina.models.synthetic import FTYPES, SHAPES, make_model

__all__ = ["add_models_command"]


def add_models_command(sub: argparse._SubParsersAction) -> None:
    """Add ``lumina models`` to the ``lumina`` command's sub-commands."""
    p = sub.add_parser(
        "models", help="list, download, import, verify and remove whisper.cpp models",
        description="Manage the model store ($LUMINA_HOME/models, else the user cache). "
                    "LUMINA_OFFLINE=1 forbids downloads; LUMINA_MODEL_URL_BASE names a mirror.")
    p.set_defaults(handler=_cmd_models)
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="every known model, its size and whether it is installed")
    dl = actions.add_parser("download", help="download a model (resumes, checks hashes)")
    dl.add_argument("name")
    dl.add_argument("--no-progress", action="store_true", help="no progress bar")
    imp = actions.add_parser(
        "import", help="import a model you already have (faster-whisper / CTranslate2 or "
                       "transformers directory, or a ggml-*.bin file) to use it by name")
    imp.add_argument("path")
    imp.add_argument("--name", help="the name to use it by (default from its shape: tiny.en, base...)")
    imp.add_argument("--quantize", choices=[q for q in QUANTIZATIONS if q != "f16"],
                     help="store the weight matrices quantized (default f16)")
    imp.add_argument("--force", action="store_true", help="replace another model of that name")
    imp.add_argument("--no-progress", action="store_true", help="no progress bar")
    actions.add_parser("verify", help="hash and check an installed model or a file") \
        .add_argument("name", metavar="NAME|PATH")
    actions.add_parser("path", help="print where a model lives").add_argument("name")
    actions.add_parser("remove", help="delete an installed model").add_argument("name")
    rnd = actions.add_parser("random", help="write a random-weight model (real shape and cost, "
                                            "gibberish text) for offline tests and demos")
    rnd.add_argument("arch", choices=sorted(SHAPES))
    rnd.add_argument("path")
    rnd.add_argument("--ftype", choices=FTYPES, default="f16")
    rnd.add_argument("--seed", type=int, default=0)
    add_recommend_parser(actions)


def _cmd_models(args: argparse.Namespace) -> int:
    from lumina.models.store import ModelStore

    store = ModelStore()
    if args.action == "recommend":
        return run_recommend(args, store)
    if args.action == "list":
        _print_table(("NAME", "SIZE", "INSTALLED", "QUANT", "FROM"), [_list_row(s) for s in store.list()])
    elif args.action == "download":
        print(store.download(args.name, progress=not args.no_progress))
    elif args.action == "import":
        done = store.import_model(args.path, name=args.name, quantize=args.quantize,
                                  overwrite=args.force,
                                  progress=not args.no_progress and sys.stderr.isatty())
        verb = "already imported" if done.reused else f"imported ({done.source_format})"
        print(f"{done.name}: {verb} -> {done.path} ({done.quantization}, "
              f"{done.info.file_size:,} bytes)")
    elif args.action == "verify":
        info = store.verify(args.name)
        digest = f"sha1 {info.sha1}" if info.sha1 else (
            f"sha256 {info.sha256}" if info.sha256 else "no hash to compare with")
        print(f"ok {info.path}: {info.arch or 'custom'} {info.quantization}, "
              f"{info.n_tensors} tensors, {info.file_size} bytes, {digest}")
    elif args.action == "path":
        print(store.path(args.name))
    elif args.action == "random":
        path = make_model(args.path, args.arch, args.ftype, args.seed)
        print(f"{path}: random-weight {args.arch} ({args.ftype}), {path.stat().st_size:,} bytes")
    elif not store.remove(args.name):
        print(f"lumina: model {args.name!r} is not installed in {store.root}", file=sys.stderr)
        return 1
    else:
        print(f"removed {store.path(args.name)}")
    return 0


def _list_row(status) -> tuple[str, ...]:
    imported = status.imported or {}
    quant = imported.get("quantization") or (status.entry.quantization if status.entry else "?")
    source = imported.get("origin") or (f"import of {imported['format']}" if imported else
                                        ("download" if status.installed else ""))
    approx = status.entry.size if status.entry else None
    return (status.name, _size_text(status.size_on_disk, approx),
            "yes" if status.installed else "no", quant, source)


def _size_text(on_disk: int | None, approx: int | None) -> str:
    """Exact size of an installed file, else the registry's approximate size."""
    if on_disk is None and approx is None:
        return "?"
    n, prefix = (float(on_disk), "") if on_disk is not None else (float(approx), "~")
    for unit in ("B", "KiB", "MiB"):
        if n < 1024:
            return f"{prefix}{n:.0f} {unit}"
        n /= 1024
    return f"{prefix}{n:.1f} GiB"


def _print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
