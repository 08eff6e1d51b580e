"""Compare lumina's energy VAD with a numpy per-frame RMS baseline, and measure listening CPU.

Run:  PYTHONPATH=. python benchmarks/compare_vad.py [--no-listen] [--listen-seconds 10]

Prints median wall time over repeats for one minute of audio, fed whole or in
20 ms chunks, as x real time.  Then (unless --no-listen, and when pulseaudio is
installed) starts a private PulseAudio null sink, listens to its silent monitor
with MicrophoneSource + Segmenter and reports CPU use (process time / wall time).
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import statistics
import sys
import tempfile
import time


ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))   # _sound_util: the private PulseAudio server

from benchmarks.bench_vad import _signal, numpy_vad  # noqa: E402
from lumina import EnergyVAD, MicrophoneSource, Segmenter  # noqa: E402

SR = 16000


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def throughput_table(repeats):
    x = _signal()
    seconds = len(x) / SR
    rows = []
    for label, chunk in (("whole minute", len(x)), ("20 ms chunks", 320)):
        chunks = [x[i:i + chunk] for i in range(0, len(x), chunk)]

        def run_lumina():
            vad = EnergyVAD()
            for c in chunks:
                vad.process(c)

        def run_numpy():
            for c in chunks:
                numpy_vad(c)

        def run_segmenter():
            seg = Segmenter()
            for c in chunks:
                seg.feed(c)
            seg.flush()

        t_l, t_n, t_s = (median_time(f, repeats) for f in (run_lumina, run_numpy, run_segmenter))
        rows.append((label, t_l, t_n, t_s, seconds))
    print(f"{'input':<14} {'lumina VAD':>12} {'numpy RMS':>12} {'speed-up':>9} "
          f"{'lumina x RT':>12} {'numpy x RT':>11} {'Segmenter x RT':>15}")
    for label, t_l, t_n, t_s, sec in rows:
        print(f"{label:<14} {t_l * 1e3:>10.2f}ms {t_n * 1e3:>10.2f}ms {t_n / t_l:>8.1f}x "
              f"{sec / t_l:>12.0f} {sec / t_n:>11.0f} {sec / t_s:>15.0f}")


def listen_cpu(seconds):
    if shutil.which("pulseaudio") is None:
        print("listening CPU: skipped (pulseaudio is not installed)")
        return
    from _sound_util import PulseServer, rescan_portaudio
    server = PulseServer(pathlib.Path(tempfile.mkdtemp(prefix="lumina-pulse-")))
    server.start()
    server.point_this_process_here()
    rescan_portaudio()
    try:
        seg = Segmenter()
        events = 0
        with MicrophoneSource("pulse") as mic:
            mic.start()
            next(iter(mic))                 # stream running: start the clocks now
            wall0, cpu0 = time.monotonic(), time.process_time()
            for chunk in mic:
                events += len(seg.feed(chunk))
                if time.monotonic() - wall0 >= seconds:
                    break
            wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
            print(f"listening CPU: MicrophoneSource({mic.device_name!r}, {mic.samplerate} Hz) + "
                  f"Segmenter on a silent null-sink monitor for {wall:.1f} s: "
                  f"process CPU {cpu:.3f} s = {100 * cpu / wall:.2f}% of one core "
                  f"(includes PortAudio's ALSA/pulse callback thread); events={events}, "
                  f"overflows={mic.overflows}, dropped={mic.dropped}")
    finally:
        server.stop()
        server.restore_this_process()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-listen", action="store_true")
    parser.add_argument("--listen-seconds", type=float, default=10.0)
    args = parser.parse_args()
    throughput_table(args.repeats)
    if not args.no_listen:
        listen_cpu(args.listen_seconds)


if __name__ == "__main__":
    main()
