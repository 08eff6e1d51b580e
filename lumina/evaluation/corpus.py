"""Clips of the real-speech corpus: sentences in voices, clean or in noise, and long recordings.

A :class:`Clip` is what one transcription is judged on: its audio and the text
that was spoken. Clips are built from :class:`~lumina.evaluation.speech.SpeechRenderer`
renderings, so building them twice gives the same samples.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np

from lumina.audio.convert import SAMPLE_RATE
from lumina.evaluation.signals import mix_at_snr, non_speech
from lumina.evaluation.speech import SpeechRenderer, Voice

__all__ = ["Clip", "Recording", "clips", "recording"]

_PAD_S = 0.25  # silence around a sentence, as a dictation app hands over an utterance


@dataclasses.dataclass(frozen=True)
class Clip:
    """One utterance to transcribe and the words spoken in it.

    ``noise`` names the background (a key of :data:`~lumina.evaluation.signals.NON_SPEECH`)
    and ``snr_db`` its level; both None for clean speech.
    """

    text: str
    voice: Voice
    audio: np.ndarray
    noise: str | None = None
    snr_db: float | None = None

    @property
    def label(self) -> str:
        """``voice`` or ``voice, pink noise at 5 dB``."""
        return self.voice.label if self.noise is None else f"{self.voice.label}, {self.noise} at {self.snr_db:g} dB"

    @property
    def seconds(self) -> float:
        """Length of the audio."""
        return len(self.audio) / SAMPLE_RATE


def _padded(audio: np.ndarray) -> np.ndarray:
    pad = np.zeros(int(_PAD_S * SAMPLE_RATE), np.float32)
    return np.concatenate([pad, audio, pad])


def clips(renderer: SpeechRenderer, sentences: Iterable[str], voices: Sequence[Voice], *,
          noise: str | None = None, snr_db: float | None = None, seed: int = 0) -> list[Clip]:
    """Every sentence in every voice (250 ms of silence either side), optionally in noise."""
    out = []
    for i, text in enumerate(sentences):
        for voice in voices:
            audio = _padded(renderer.render(text, voice))
            if noise is not None:
                background = non_speech(noise, len(audio) / SAMPLE_RATE + 1, seed=seed + i)
                audio = mix_at_snr(audio, background, snr_db)
            out.append(Clip(text, voice, audio, noise, snr_db))
    return out


@dataclasses.dataclass(frozen=True)
class Recording:
    """A long recording of sentences with pauses, and where each sentence lies in it."""

    audio: np.ndarray
    sentences: tuple[str, ...]
    spans: tuple[tuple[float, float], ...]

    @property
    def text(self) -> str:
        """Everything that was said, in order."""
        return " ".join(self.sentences)


def recording(renderer: SpeechRenderer, sentences: Sequence[str], voices: Sequence[Voice],
              minutes: float, *, pause_s: tuple[float, float] = (0.5, 2.5), seed: int = 0,
              floor_dbfs: float = -60.0) -> Recording:
    """About ``minutes`` of the sentences (cycled, voices alternating) with random pauses,
    over a quiet noise floor."""
    rng = np.random.default_rng(seed)
    parts, spans, said, at = [], [], [], 0.0
    i = 0
    while at < minutes * 60:
        text, voice = sentences[i % len(sentences)], voices[i % len(voices)]
        speech = renderer.render(text, voice)
        pause = np.zeros(int(rng.uniform(*pause_s) * SAMPLE_RATE), np.float32)
        parts += [pause, speech]
        at += len(pause) / SAMPLE_RATE
        spans.append((at, at + len(speech) / SAMPLE_RATE))
        said.append(text)
        at += len(speech) / SAMPLE_RATE
        i += 1
    audio = np.concatenate(parts + [np.zeros(SAMPLE_RATE, np.float32)])
    audio = audio + non_speech("noise floor -60 dB", len(audio) / SAMPLE_RATE + 1, seed=seed)[:len(audio)] \
        * 10 ** ((floor_dbfs + 60) / 20)
    return Recording(audio.astype(np.float32), tuple(said), tuple(spans))
