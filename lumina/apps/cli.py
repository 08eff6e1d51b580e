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
from pathlib import Path

from tqdm import tqdm

import lumina
from lumina.errors import LuminaError
from lumina.asr.formats import FORMATS, render
from lumina.asr.transcript import Timings, Transcript
from lumina.audio.vad import DETECTORS
from lumina.apps.models_command import add_models_command
from lumina.apps.outputs import output_path, write_atomic


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
    add_models_command(sub)
    _add_transcribe_command(sub)
    _add_devices_command(sub)
    _add_dictate_command(sub)
    _add_bench_command(sub)
    from lumina.apps.serve_command import add_serve_command
    add_serve_command(sub)


def _print_file_error(path: str, exc: Exception) -> None:
    """One error line that names the file once, whether or not the message already does."""
    message = str(exc)
    if path not in message:
        message = f"{path}: {message}"
    print(f"lumina: error: {message}", file=sys.stderr)


def _cmd_info(args: argparse.Namespace) -> int:
    """Print one line per file; a bad file prints an error line and makes the exit code 1."""
    status = 0
    for path in args.files:
        try:
            info = lumina.audio_info(path)
        except (LuminaError, OSError) as exc:
            _print_file_error(path, exc)
            status = 1
            continue
        plural = "" if info.channels == 1 else "s"
        print(f"{path}: {info.format} {info.subtype}, {info.sample_rate} Hz, "
              f"{info.channels} channel{plural}, {info.duration:.2f} s, "
              f"peak {info.peak_dbfs:.2f} dBFS")
    return status


def _add_transcribe_command(sub: argparse._SubParsersAction) -> None:
    """``lumina transcribe FILE... [--model M] [--speed fast] [--format F] [--output DIR] [--vad]``."""
    p = sub.add_parser("transcribe", help="transcribe audio files",
                       description="Transcribe audio files with a whisper.cpp model. --model takes a "
                                   "registry name installed with `lumina models download` or a path "
                                   "to a ggml model file. Files of any length are read and decoded "
                                   "in windows of at most 30 s, and printed as they are decoded.")
    # "*", checked in _cmd_transcribe: `--ray DIR` may take the only input as its ADDRESS.
    p.add_argument("files", nargs="*", metavar="FILE")
    p.add_argument("--model", default="base.en", help="registry name or model path (default base.en)")
    p.add_argument("--speed", choices=("accurate", "fast"), default="accurate",
                   help="fast cuts the encoder context to the audio (see the docs); default accurate")
    p.add_argument("--format", choices=FORMATS, default="txt", dest="fmt")
    p.add_argument("--output", metavar="DIR", help="write FILE's stem + format extension into DIR "
                                                   "instead of printing")
    p.add_argument("--language", help="language code or 'auto' (default: the model's)")
    p.add_argument("--threads", type=int, help="CPU threads (default min(4, cores))")
    p.add_argument("--parallel", type=int, default=2, metavar="N",
                   help="windows of a long file decoded at once, sharing --threads between them "
                        "(default 2: two one-thread decodes side by side get through a long file "
                        "faster than one two-thread decode after another; one extra whisper.cpp "
                        "state, ~60 MB for tiny.en)")
    p.add_argument("--device", default="auto", help="auto, cpu, gpu, cuda, vulkan or metal")
    p.add_argument("--vad", action="store_true",
                   help="decode only the speech a voice activity detector finds (pauses, noise and "
                        "music are skipped; times stay those of the file)")
    p.add_argument("--vad-kind", choices=DETECTORS, default=None,
                   help="the detector for --vad (implies it): silero (default), energy or webrtc")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (shown on a terminal when the text goes elsewhere)")
    from lumina.apps.distributed.command import add_ray_options  # --ray [ADDRESS]: on a Ray cluster
    add_ray_options(p)
    p.set_defaults(handler=_cmd_transcribe)


def _cmd_transcribe(args: argparse.Namespace) -> int:
    """Transcribe each file; one failing file prints an error and the others go on."""
    if args.ray is not None:
        from lumina.apps.distributed.command import run_command
        return run_command(args)
    if not args.files:
        print("lumina: error: no FILE to transcribe", file=sys.stderr)
        return 2
    output = Path(args.output) if args.output else None
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
    status = 0
    with lumina.Engine(args.model, device=args.device, threads=args.threads,
                       concurrency=args.parallel) as engine:
        engine.wait_ready()
        files = tqdm(args.files, unit="file", disable=len(args.files) < 2 or not sys.stderr.isatty())
        for path in files:
            try:
                _transcribe_file(engine, path, args, output)
            except (LuminaError, OSError) as exc:
                _print_file_error(path, exc)
                status = 1
    return status


def _transcribe_file(engine, path: str, args: argparse.Namespace, output: Path | None) -> None:
    """Decode ``path`` window by window (bounded memory); print segments as they come or write a file."""
    vad = (args.vad_kind or "silero") if (args.vad or args.vad_kind) else False
    bar = tqdm(total=0.0, unit="s", desc=Path(path).name, leave=False,
               disable=not _show_progress(args, output),
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}]")
    segments, info = engine.transcribe_iter(path, vad=vad, speed=args.speed, language=args.language,
                                            on_progress=lambda done, total: _advance(bar, done, total))
    with bar, segments:
        if output is None and args.fmt != "json":
            _stream(segments, args.fmt)
        else:
            _emit(render(segments.transcript(), args.fmt), path, output, args.fmt)
    if segments.reason:
        print(f"lumina: {path}: {segments.reason}", file=sys.stderr)


def _show_progress(args: argparse.Namespace, output: Path | None) -> bool:
    """A bar on a terminal, unless the text is printed to that terminal too (it shows progress)."""
    return not args.no_progress and sys.stderr.isatty() and (output is not None or not sys.stdout.isatty())


def _advance(bar: tqdm, done: float, total: float) -> None:
    bar.total = total
    bar.update(done - bar.n)
    if done >= total:
        bar.refresh()   # tqdm throttles redraws; the end is always shown


def _stream(segments, fmt: str) -> None:
    """Write each segment to stdout as it is decoded; the whole equals ``render(transcript, fmt)``."""
    count = 0
    if fmt == "vtt":
        sys.stdout.write("WEBVTT\n\n")
    try:
        for segment in segments:
            count += 1
            if fmt == "txt":
                sys.stdout.write((" " if count > 1 else "") + segment.text)
            else:
                cue = render(Transcript(segment.text, (segment,), "", "", Timings()), fmt)
                cue = cue.removeprefix("WEBVTT\n\n").removeprefix("1\n")
                sys.stdout.write(("\n" if count > 1 else "") + (f"{count}\n" if fmt == "srt" else "")
                                 + cue)
            sys.stdout.flush()
    finally:
        if fmt == "txt":   # also when a bad sample stops the file half way: end the line
            sys.stdout.write("\n")


def _emit(text: str, source: str, output: Path | None, fmt: str) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    target = output_path(output, source, fmt)  # shared with --ray (lumina.apps.outputs)
    write_atomic(target, text)
    print(target)


def _add_devices_command(sub: argparse._SubParsersAction) -> None:
    """``lumina devices``."""
    p = sub.add_parser("devices", help="list the compute devices this installation can use")
    p.set_defaults(handler=_cmd_devices)


def _cmd_devices(args: argparse.Namespace) -> int:
    for device in lumina.devices():
        state = "available" if device.available else "not available"
        print(f"{device.name:<7} {state:<14} {device.detail}")
    return 0


def _add_dictate_command(sub: argparse._SubParsersAction) -> None:
    """``lumina dictate``: live partial on one line, finals committed; optionally typed."""
    p = sub.add_parser(
        "dictate", help="transcribe the microphone live (partial text while you speak)",
        description="Shows the live partial on one line (the whole utterance's provisional text "
                    "as soon as you stop speaking) and commits each final, which may correct it. "
                    "Ctrl-C stops.")
    p.add_argument("--model", default="base.en", help="model of the finals (default base.en)")
    p.add_argument("--partial-model", default=None,
                   help="faster model of the partials (default: --model in fast mode)")
    p.add_argument("--device", default=None,
                   help="input device: index or part of its name (default: the system default)")
    p.add_argument("--type", action="store_true",
                   help="also type the text into the focused window (xdotool, wtype or ydotool); "
                        "what the final changes is corrected in place with backspaces")
    p.add_argument("--threads", type=int, default=None, help="CPU threads per model")
    # Hidden: dictate a file instead of the microphone (demos and tests); --realtime paces it.
    p.add_argument("--file", default=None, help=argparse.SUPPRESS)
    p.add_argument("--realtime", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(handler=_cmd_dictate)


def _cmd_dictate(args: argparse.Namespace) -> int:
    from lumina.apps.dictation import LineView, Typer, detect_typing_tool
    from lumina.audio.sources import FileSource, MicrophoneSource
    from lumina.streaming import Stream, StreamModels, StreamOptions

    device = int(args.device) if args.device is not None and args.device.isdigit() else args.device
    typer = Typer(detect_typing_tool()) if args.type else None
    engines = _start_engines(args.model, args.partial_model, args.threads)
    view, stream = LineView(), None
    try:
        if args.file is not None:
            source = FileSource(args.file, realtime=args.realtime)
            options = StreamOptions(lockstep=not args.realtime)
        else:  # opening the input device now: a bad one fails while the models load
            source, options = MicrophoneSource(device, ring_seconds=10.0), StreamOptions()
        stream = Stream(StreamModels(partial=engines[-1], final=engines[0]), source=source,
                        options=options)
        for engine in engines:  # a bad model fails now, as in `transcribe`, not at the first word
            engine.wait_ready()
        _show_events(stream, view, typer)
    finally:
        if stream is not None:
            stream.stop()
        for engine in engines:
            engine.close()
        view.close()
        if typer is not None:
            typer.discard()  # the utterance cut short (Ctrl-C) never became a final: untype it
    return 0


def _start_engines(model: str, partial_model: str | None, threads: int | None) -> list:
    """[final engine] or [final engine, partial engine], loading in the background."""
    engines = [lumina.Engine(model, threads=threads)]
    if partial_model is not None and partial_model != model:
        engines.append(lumina.Engine(partial_model, threads=threads))
    return engines


def _show_events(stream, view, typer) -> None:
    """Partials and finals to the terminal line (and the typer); losses as status lines."""
    from lumina.streaming.events import DeviceLost, Dropped, Final, Partial

    for event in stream:
        if isinstance(event, (Partial, Final)):
            for out in (view, typer):
                if out is not None:
                    (out.partial if isinstance(event, Partial) else out.final)(event)
        elif isinstance(event, (Dropped, DeviceLost)):
            view.close()
            print(_status_line(event), file=sys.stderr)


def _status_line(event) -> str:
    """One line for a Dropped or DeviceLost event."""
    from lumina.streaming.events import Dropped
    if isinstance(event, Dropped):
        return (f"lumina: dropped {event.samples / lumina.SAMPLE_RATE:.2f} s of audio "
                "(the computer could not keep up)")
    retry = "giving up" if event.retry_in is None else f"retrying in {event.retry_in:.1f} s"
    return f"lumina: lost input device {event.device!r} ({event.reason}); {retry}"


def _add_bench_command(sub: argparse._SubParsersAction) -> None:
    """``lumina bench [--model M] [--seconds 1,2,5,10] [--repeat N] [--audio FILE]``."""
    p = sub.add_parser("bench", help="time a model on this machine (accurate and fast)",
                       description="Load a model, then time transcriptions of several lengths in "
                                   "both speeds, from the engine's own stage timings.")
    p.add_argument("--model", default="base.en", help="registry name or model path")
    p.add_argument("--seconds", default="1,2,5,10", help="comma-separated audio lengths")
    p.add_argument("--repeat", type=int, default=3, help="runs per cell (median shown)")
    p.add_argument("--audio", help="cut the clips from this file (default: synthetic speech)")
    p.add_argument("--threads", type=int)
    p.add_argument("--device", default="auto")
    p.set_defaults(handler=_cmd_bench)


def _cmd_bench(args: argparse.Namespace) -> int:
    from lumina.apps import bench
    from lumina.testing import speechlike

    lengths = [float(x) for x in args.seconds.split(",")]
    audio = lumina.load_audio(args.audio) if args.audio else speechlike(max(lengths))
    engine, startup = bench.measure_startup(args.model, device=args.device, threads=args.threads)
    with engine:
        print(f"model {args.model} on {engine.device}, {engine.threads} threads: constructor "
              f"{startup.constructor * 1000:.1f} ms, ready after {startup.ready * 1000:.0f} ms")
        print(f"{'audio':>7} {'speed':<9} {'encode':>9} {'decode':>9} {'total':>9} {'RTF':>6}")
        for seconds in lengths:
            for speed in ("accurate", "fast"):
                row = bench.measure_latency(engine, audio, seconds, speed, args.repeat)
                print(f"{row.seconds:>6.2f}s {row.speed:<9} {row.encode * 1000:>7.0f}ms "
                      f"{row.decode * 1000:>7.0f}ms {row.total * 1000:>7.0f}ms {row.real_time_factor:>6.3f}")
    return 0


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
