"""Compare the voice activity detectors: accuracy on a labelled corpus, CPU, throughput.

Run:  PYTHONPATH=. python benchmarks/compare_vad.py [--seeds 2] [--policy] [--no-throughput]
                                                    [--no-listen] [--quick]

1. Accuracy (energy, webrtc, silero), on a corpus made now with espeak-ng
   (``tests/_vad_corpus.py``): speech with known boundaries over white and pink
   noise, babble, a music-like tone mix and keyboard-like clicks at SNR 20,
   10, 5 and 0 dB. Per background and SNR: frame-level (10 ms) precision,
   recall and F1 of "inside an utterance", median onset and offset error of
   the utterances found, utterances missed, and utterances opened on noise
   alone. Then each background alone (30 s per seed at -40, -30 and -20 dBFS,
   and digital silence): the utterances opened. Then CPU per second of audio.
   Detectors are run scene by scene in turn, so machine load hits all alike.
2. ``--policy``: Silero's state policy (reset after K quiet windows, at
   speech R seconds after the last reset, priming a reset state with the
   last P seconds) on the same corpus and on the noise-swell scenes that
   motivated it (``lumina.audio.vad.silero`` explains the choice).
3. Throughput of the energy VAD against a numpy baseline, and CPU while
   listening to a silent PulseAudio monitor (as before).
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
if __name__ == "__main__":   # a checkout's lumina when run as a script; asv imports the installed one
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))   # the corpus, espeak helpers, the private PulseAudio server
sys.path.insert(0, str(ROOT / "benchmarks"))

from _speech_util import SpeechBank  # noqa: E402
from _vad_corpus import KINDS, SNRS, swell_scene  # noqa: E402
from _vad_eval import (corpus, detect, contender, evaluate, noise_corpus, print_accuracy,  # noqa: E402
                       print_cpu, print_noise_only)

from benchmarks.bench_vad import _signal, numpy_vad  # noqa: E402
from lumina import MicrophoneSource, Segmenter
from lumina.audio.vad import EnergyVAD  # noqa: E402

SR = 16000
DETECTORS = ("energy", "webrtc", "silero")
# K/R/P: reset after K quiet windows, at speech R s after the last reset, priming P s (0: off).
# The default is 3/1/0.5.
POLICIES = ("silero 0/0", "silero 3/0", "silero 0/1", "silero 3/1", "silero 3/1/0.25", "silero 3/1/0.5")


def accuracy(bank, seeds: int, n_utterances: int, names=DETECTORS) -> None:
    scenes = corpus(bank, seeds, n_utterances)
    total = sum(s.seconds for s in scenes)
    print(f"== accuracy: {len(scenes)} scenes, {total:.0f} s of audio, {seeds} seed(s) per cell ==")
    tallies = evaluate(names, scenes, key=lambda sc: sc.name)
    print_accuracy(names, tallies, [f"{k} {snr:g} dB" for k in KINDS for snr in SNRS])
    by_snr = evaluate(names, scenes, key=lambda sc: f"{sc.snr_db:g} dB")
    print("\n-- by SNR, all backgrounds --")
    print_accuracy(names, by_snr, [f"{snr:g} dB" for snr in SNRS])
    quiet = noise_corpus(bank, 30.0, seeds)
    print("\n== backgrounds alone: utterances opened ==")
    print_noise_only(names, evaluate(names, quiet, key=lambda sc: sc.name), quiet)
    print("\n== CPU ==")
    print_cpu(names, tallies)


def policy(bank, seeds: int, n_utterances: int) -> None:
    print("\n== Silero state policy K/R/P: reset after K quiet windows, at speech R s after "
          "the last reset, prime with the last P s ==")
    scenes = corpus(bank, seeds, n_utterances)
    tallies = evaluate(POLICIES, scenes, key=lambda sc: f"{sc.snr_db:g} dB")
    print_accuracy(POLICIES, tallies, [f"{snr:g} dB" for snr in SNRS])
    print_cpu(POLICIES, tallies)
    print(f"\n{'swell scene':<28}" + "".join(f"{p:>12}" for p in POLICIES))
    for overlap in (0.0, 0.3, 1.0):
        for seed in (0, 1, 2):
            sc = swell_scene(bank, overlap, seed)
            end = sc.spans[0][1]
            cells = []
            for name in POLICIES:
                spans, _ = detect(contender(name), sc.audio)
                tail = max([b for a, b in spans if a < end] + [end]) - end
                extra = sum(1 for a, b in spans if a >= end)
                cells.append(f"{tail / SR:5.2f}s+{extra}")
            print(f"{sc.name + f' #{seed}':<28}" + "".join(f"{c:>12}" for c in cells))
    print("(cell: seconds the utterance ran past the speech, + utterances opened on the swell)")


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
            seg = Segmenter(vad="energy")
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
    parser.add_argument("--seeds", type=int, default=2, help="scenes per background and SNR")
    parser.add_argument("--utterances", type=int, default=4, help="utterances per scene")
    parser.add_argument("--quick", action="store_true", help="1 seed, 2 utterances per scene")
    parser.add_argument("--policy", action="store_true", help="also sweep Silero's reset policy")
    parser.add_argument("--no-accuracy", action="store_true")
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-listen", action="store_true")
    parser.add_argument("--listen-seconds", type=float, default=10.0)
    args = parser.parse_args()
    seeds, n_utt = (1, 2) if args.quick else (args.seeds, args.utterances)
    bank = SpeechBank(pathlib.Path(tempfile.gettempdir()) / "lumina-vad-corpus")
    if not args.no_accuracy:
        accuracy(bank, seeds, n_utt)
    if args.policy:
        policy(bank, seeds, n_utt)
    if not args.no_throughput:
        print("\n== energy VAD throughput ==")
        throughput_table(args.repeats)
    if not args.no_listen:
        listen_cpu(args.listen_seconds)


if __name__ == "__main__":
    main()
