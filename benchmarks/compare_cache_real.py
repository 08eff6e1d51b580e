"""The phrase cache on real speech with the real tiny.en: re-takes answered, wrong texts, cost.

Run (quiet machine):  python benchmarks cache_real [--set hibari|espeak] [--phrases 44] [--threads 2]
                          [--cache DIR] [--show]

What it answers (issue 19, goal 4): of the re-takes of a cached phrase (lumina.evaluation.phrases:
tempo and pitch, gain +-6 dB, white noise at 20 dB SNR, padding, 8 to 48 kHz, stereo and all of
them combined), how many does an Engine with a PhraseCache answer from the cache, how many of those
answers differ in words from what the model itself says on that re-take (an Engine without a
cache, same call), and what a verified answer costs against a model run. ``--set hibari``: the
phrases spoken by hibari-tts (natural speech; ``hibari_retakes``); ``--set espeak``: by four
espeak-ng voices (``retakes``).

Two more columns say what "wrong" can mean. *Model stable*: re-takes the model itself reads with
the words it read the original with; a cache answer for any other re-take differs from the model's
own reading by definition, so this is the most a cache can answer with no wrong text. *WER*: the
spoken phrase against the cache's answers and against the model's own readings of the same
re-takes, so a cache answer that differs from the model's can be seen to be better or worse.

The cache holds each phrase's original take (its own voice, decoded once by the cached engine),
and only those: it is a FrozenCache (lumina.evaluation.phrases), so a miss that would store a
re-take stores nothing and never answers a later re-take; each threshold compared is set on it
in turn. Then
the confusables (lumina.evaluation.phrases.labelled_confusables: near misses, the phrases in the
other voices, silence, noise, tones) are asked the same way: an answer from the cache is wrong when
its words differ from the model's own.

Per re-take the cached call and the uncached call alternate, so drift hits both alike; times are
medians of ``Transcript.timings.total``. Goal: >= 90% of re-takes from the cache, 0 wrong texts,
a verified answer <= 1/5 of a model run.
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import statistics
import tempfile

import numpy as np

from lumina import Engine
from lumina.asr.cached import words
from lumina.cache import DEFAULT_THRESHOLD
from lumina.evaluation.phrases import FrozenCache
from lumina.evaluation import HIBARI_VOICES, SpeechRenderer, phrases, word_errors
from lumina.models import ModelStore

GOAL = "goal: >= 90% of re-takes from the cache, 0 wrong texts, verified answer <= 1/5 of a model run"


class PhraseSet:
    """Originals, re-takes and confusables of the chosen phrases in one kind of voice."""

    def __init__(self, name: str, cache_dir: pathlib.Path, n_phrases: int) -> None:
        self.name = name
        self.texts = phrases.PHRASES[:n_phrases]
        if name == "espeak":
            self.bank = phrases.SpeechBank(cache_dir / "phrases")
        else:
            self.speech = SpeechRenderer(cache_dir)

    def _voice(self, i: int) -> str:
        return phrases.VOICES[i % len(phrases.VOICES)]

    def original(self, i: int) -> np.ndarray:
        if self.name == "espeak":
            return self.bank.at_16k(self.texts[i], self._voice(i))
        return self.speech.render(self.texts[i], HIBARI_VOICES[0])

    def retakes(self, i: int) -> list[phrases.Take]:
        if self.name == "espeak":
            return phrases.retakes(self.bank, self.texts[i], self._voice(i), seed=i)
        return phrases.hibari_retakes(self.speech, self.texts[i], seed=i)

    def confusables(self):
        """(name, what it says, 16 kHz audio): near misses, and for espeak the cached phrases in
        the other voices; then silence, noise and tones."""
        if self.name == "espeak":
            for name, said, audio in phrases.labelled_confusables(self.bank):
                if said in self.texts or not said or name.startswith("near miss"):
                    yield name, said, audio
            return
        for said in phrases.NEAR_MISSES:
            yield f"near miss {said!r}", said, self.speech.render(said, HIBARI_VOICES[0])
        for k in range(5):
            yield f"noise {k}", "", phrases.noise(k)
            yield f"tones {k}", "", phrases.tones(k)


def fill(engine: Engine, chosen: PhraseSet) -> list[str]:
    """Decode each phrase's original take once into the engine's (frozen) cache; their texts."""
    texts = [engine.transcribe(chosen.original(i)).text for i in range(len(chosen.texts))]
    engine.cache.frozen = True
    return texts


def ask(cached: Engine, plain: Engine, audio, sr: int, thresholds: list[float]) -> list[dict]:
    """One question to the cache at each threshold, then to the model alone."""
    asked = []
    for threshold in thresholds:
        cached.cache.threshold = threshold
        candidates: list[str] = []
        asked.append((cached.transcribe(audio, sample_rate=sr, on_candidate=candidates.append),
                      bool(candidates)))
    own = plain.transcribe(audio, sample_rate=sr)
    return [{"origin": answer.origin, "text": answer.text, "own": own.text, "candidate": candidate,
             "seconds": answer.timings.total, "model_seconds": own.timings.total,
             "wrong": answer.origin != "model" and words(answer.text) != words(own.text)}
            for answer, candidate in asked]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=("hibari", "espeak"), default="hibari")
    parser.add_argument("--phrases", type=int, default=len(phrases.PHRASES))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--thresholds", default="default",
                        help="comma-separated PhraseCache thresholds to compare ('default': its own)")
    parser.add_argument("--no-confusables", action="store_true")
    parser.add_argument("--cache", default=str(pathlib.Path(tempfile.gettempdir()) / "lumina-eval"))
    parser.add_argument("--show", action="store_true", help="print every re-take not answered or wrong")
    args = parser.parse_args(argv)
    thresholds = [DEFAULT_THRESHOLD if t.strip() == "default" else float(t) for t in args.thresholds.split(",")]
    store = ModelStore(pathlib.Path(args.cache) / "models", offline=True)
    model = store.find("tiny.en")
    chosen = PhraseSet(args.set, pathlib.Path(args.cache), args.phrases)
    rows: dict[int, list[dict]] = collections.defaultdict(list)
    confusable_rows: dict[int, list[dict]] = collections.defaultdict(list)
    with Engine(model, threads=args.threads, cache=FrozenCache()) as cached, \
            Engine(model, threads=args.threads) as plain:
        cached.wait_ready()
        plain.wait_ready()
        originals = fill(cached, chosen)
        for i, text in enumerate(chosen.texts):
            for take in chosen.retakes(i):
                for k, row in enumerate(ask(cached, plain, take.audio, take.sr, thresholds)):
                    rows[k].append({**row, "kind": take.label, "phrase": text, "original": originals[i]})
        for name, said, audio in ([] if args.no_confusables else chosen.confusables()):
            for k, row in enumerate(ask(cached, plain, audio, 16000, thresholds)):
                confusable_rows[k].append({**row, "kind": name, "phrase": said, "original": ""})
    print(f"real tiny.en, {args.set} voices, {len(chosen.texts)} phrases, {len(rows[0])} re-takes, "
          f"{len(confusable_rows[0])} confusables, {args.threads} threads\n{GOAL}")
    for k, threshold in enumerate(thresholds):
        default = " (default)" if threshold == DEFAULT_THRESHOLD else ""
        print(f"\nthreshold {threshold:g}{default}")
        report(rows[k], confusable_rows[k], args.show)
    return 0


def report(rows: list[dict], confusable_rows: list[dict], show: bool) -> None:
    """Print the table: per re-take kind, then the totals and the costs."""
    print("| re-take | from cache | verified | exact | candidate rejected | wrong (words differ from the "
          "model's own) | model stable | WER cache answers | WER model, same re-takes |")
    print("|---|---|---|---|---|---|---|---|---|")
    by_kind = collections.defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row)
    for kind, group in by_kind.items():
        print(_line(kind, group))
    print(_line("**all re-takes**", rows))
    if confusable_rows:
        print(_line("confusables", confusable_rows))
    verified = [r["seconds"] for r in rows if r["origin"] == "cache-verified"]
    model = [r["model_seconds"] for r in rows]
    missed = [r["seconds"] for r in rows if r["origin"] == "model"]
    if verified and model:
        ratio = statistics.median(verified) / statistics.median(model)
        print(f"\nverified answer {statistics.median(verified) * 1000:.0f} ms, model run "
              f"{statistics.median(model) * 1000:.0f} ms (ratio {ratio:.2f}); a re-take the cache "
              f"did not answer {statistics.median(missed) * 1000 if missed else float('nan'):.0f} ms")
    if show:
        for row in rows + confusable_rows:
            if row["origin"] == "model" or row["wrong"]:
                how = "rejected" if row["candidate"] and row["origin"] == "model" else row["origin"]
                print(f"  {row['phrase']!r} {row['kind']}: {how} {row['text']!r} "
                      f"(model: {row['own']!r}; original: {row['original']!r})")


def _line(name: str, group: list[dict]) -> str:
    n = len(group)
    answered = [r for r in group if r["origin"] != "model"]
    verified = sum(r["origin"] == "cache-verified" for r in group)
    exact = sum(r["origin"] == "cache-exact" for r in group)
    rejected = sum(r["candidate"] and r["origin"] == "model" for r in group)
    wrong = sum(r["wrong"] for r in group)
    stable = sum(bool(words(r["original"])) and words(r["own"]) == words(r["original"]) for r in group)
    spoken = [r["phrase"] for r in answered]
    wer_cache = word_errors(spoken, [r["text"] for r in answered]).rate if answered else float("nan")
    wer_model = word_errors(spoken, [r["own"] for r in answered]).rate if answered else float("nan")
    return (f"| {name} | {len(answered)}/{n} ({100 * len(answered) / n:.0f}%) | {verified} | {exact} | "
            f"{rejected} | {wrong} | {stable} | {100 * wer_cache:.1f}% | {100 * wer_model:.1f}% |")


if __name__ == "__main__":
    raise SystemExit(main())
