"""Phrases said again, and their confusables: the phrase cache's evaluation set, spoken by espeak-ng
or by hibari-tts.

Nothing large is stored: :class:`SpeechBank` renders each (text, voice, speed, pitch) once
into a folder, and every other take (gain, noise, padding, sample rate, channels) is derived
from those renderings with numpy and soxr, seeded (:func:`retakes`). :func:`hibari_retakes`
makes the same kinds of re-take from hibari-tts's natural speech (a
:class:`lumina.evaluation.SpeechRenderer`). The tests, ``benchmarks/compare_cache.py`` and
``benchmarks/compare_cache_real.py`` measure the cache on them. Needs Debian's ``espeak-ng``
for :class:`SpeechBank`, hibari-tts for :func:`hibari_retakes`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import pathlib
import subprocess

import numpy as np
import soundfile
import soxr

from lumina.audio.convert import SAMPLE_RATE as SR
from lumina.cache.phrase_cache import PhraseCache
from lumina.evaluation.speech import HIBARI_VOICES, Voice

__all__ = ["MINIMAL_PAIRS", "NEAR_MISSES", "PHRASES", "FrozenCache", "SpeechBank", "Take", "VOICES", "add_noise",
           "confusables", "gain", "hibari_retakes", "labelled_confusables", "noise", "pad", "pair_sides", "pair_takes",
           "resample", "retakes", "signal_retakes", "stereo", "tones"]

#: Phrases people dictate again and again.  Several differ from another one by one word, so
#: a re-take must not only hit, it must hit the right entry.
PHRASES = (
    "new paragraph", "new line", "send it", "send the email", "send the emails",
    "full stop", "question mark", "open the door", "close the window", "thank you very much",
    "best regards", "kind regards", "see you tomorrow", "call me back", "delete that",
    "scratch that", "undo the last change", "save the file", "open the file", "good morning",
    "good evening", "my name is alex morgan", "please find attached", "let me know",
    "sounds good to me", "talk to you soon", "what time is it", "set a timer for ten minutes",
    "turn on the lights", "turn off the lights", "play some music", "stop the music",
    "read it back", "start a new note", "cancel the meeting", "schedule a call",
    "reply to all", "forward this message", "mark as read", "move to archive",
    "select all", "copy that", "paste it here", "go to the next page",
)

#: Phrases never cached, one word away from a cached one (or a near rhyme of it).
NEAR_MISSES = (
    "end the email", "send the letter", "new sentence", "send them", "close the door",
    "open the window", "best wishes", "see you today", "call me later", "delete this",
    "save the page", "good night", "my name is alex norton", "let me go", "turn on the radio",
    "play some videos", "read it again", "cancel the meeting now", "reply to him",
    "mark as unread", "select none", "copy this", "go to the last page", "what day is it",
    "question marks", "open the files",
)

#: Minimal pairs: two phrases one short sound apart (on/off, can/can't, fifteen/fifty,
#: thirteen/thirty, at seven/at eleven, call/fall, accept/except). Neither side is in PHRASES
#: or NEAR_MISSES. The evaluation caches one side in every voice and asks with the other
#: (every voice, every re-take kind), in both directions: similar audio, other words.
MINIMAL_PAIRS = (
    ("turn on the kitchen lights", "turn off the kitchen lights"),
    ("i can come tomorrow", "i can't come tomorrow"),
    ("wait fifteen minutes", "wait fifty minutes"),
    ("turn to page thirteen", "turn to page thirty"),
    ("meet me at seven", "meet me at eleven"),
    ("i might call", "i might fall"),
    ("accept all changes", "except all changes"),
)

#: Voice used to record phrase i is VOICES[i % len(VOICES)].
VOICES = ("en-us", "en-gb", "en+f3", "en+m3")

SPEED = 175
PITCH = 50


@dataclasses.dataclass(frozen=True)
class Take:
    """One recording: samples (frames, or frames x channels), its rate and what made it."""

    audio: np.ndarray
    sr: int
    label: str


class SpeechBank:
    """Renders espeak-ng speech once per (text, voice, speed, pitch) into ``directory``."""

    def __init__(self, directory: pathlib.Path) -> None:
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._memo: dict[tuple, tuple[np.ndarray, int]] = {}

    def render(self, text: str, voice: str, speed: int = SPEED, pitch: int = PITCH) -> tuple[np.ndarray, int]:
        """Float32 mono samples at espeak's native rate (22.05 kHz) and that rate."""
        key = (text, voice, speed, pitch)
        if key not in self._memo:
            # A stable name lets a directory that outlives the process skip espeak next time.
            name = hashlib.sha1(repr(key).encode()).hexdigest()[:16] + ".wav"
            path = self.directory / name
            if not path.exists():
                tmp = path.with_suffix(".part.wav")
                subprocess.run(
                    ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(tmp), text],
                    check=True, capture_output=True)
                tmp.replace(path)
            audio, sr = soundfile.read(path, dtype="float32")
            self._memo[key] = (audio, sr)
        return self._memo[key]

    def at_16k(self, text: str, voice: str, speed: int = SPEED, pitch: int = PITCH) -> np.ndarray:
        """The rendering resampled to float32 mono 16 kHz, the cache's canonical input."""
        audio, sr = self.render(text, voice, speed, pitch)
        return soxr.resample(audio, sr, SR).astype(np.float32)


def gain(audio: np.ndarray, db: float) -> np.ndarray:
    return (audio * np.float32(10.0 ** (db / 20.0))).astype(np.float32)


def pad(audio: np.ndarray, sr: int, lead_s: float, trail_s: float) -> np.ndarray:
    lead = np.zeros(int(round(lead_s * sr)), dtype=np.float32)
    trail = np.zeros(int(round(trail_s * sr)), dtype=np.float32)
    return np.concatenate([lead, audio.astype(np.float32), trail])


def add_noise(audio: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """White noise at ``snr_db`` below the mean power of the non-silent samples."""
    rng = np.random.default_rng(seed)
    voiced = audio[np.abs(audio) > 1e-4]
    power = float(np.mean(voiced.astype(np.float64) ** 2))
    noise = rng.standard_normal(audio.shape) * np.sqrt(power / 10.0 ** (snr_db / 10.0))
    return (audio + noise).astype(np.float32)


def resample(audio: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    return soxr.resample(audio, sr_from, sr_to).astype(np.float32)


def stereo(audio: np.ndarray) -> np.ndarray:
    """Two channels that differ a little in level, frames x channels."""
    return np.stack([audio, gain(audio, -2.0)], axis=1)


class FrozenCache(PhraseCache):
    """A phrase cache that stops learning once ``frozen`` is set: every query then meets the
    same entries (a miss stores nothing), so the answers to re-takes do not depend on their order."""

    frozen = False

    def put(self, audio, key, text, **kwargs):
        if not self.frozen:
            super().put(audio, key, text, **kwargs)


def retakes(bank: SpeechBank, text: str, voice: str, seed: int) -> list[Take]:
    """Takes of one phrase by one espeak-ng voice that a user's repetition might differ by."""
    native, nsr = bank.render(text, voice)
    takes = [
        Take(bank.at_16k(text, voice, speed=158), SR, "tempo -10%"),
        Take(bank.at_16k(text, voice, speed=192), SR, "tempo +10%"),
        Take(bank.at_16k(text, voice, pitch=45), SR, "pitch -10%"),
        Take(bank.at_16k(text, voice, pitch=55), SR, "pitch +10%"),
    ]
    fast = bank.at_16k(text, voice, speed=192, pitch=55)
    return takes + signal_retakes(bank.at_16k(text, voice), (native, nsr), fast, seed)


def hibari_retakes(speech, text: str, seed: int) -> list[Take]:
    """Takes of one phrase by hibari-tts (natural speech) that a user's repetition might differ by.

    ``speech`` is a :class:`lumina.evaluation.SpeechRenderer`; the original is
    ``speech.render(text, HIBARI_VOICES[0])``. Tempo: hibari's own rate 0.9 and 1.1 (hibari
    gives the same audio whatever its seed, so a re-take cannot be a second rendering); pitch:
    the original played 6% slower or faster (resampled: pitch and tempo move together, as a
    voice a little lower or higher and slower or quicker); then the signal re-takes of
    :func:`retakes` (gain, noise, padding, sample rates, stereo, all combined).
    """
    voice = HIBARI_VOICES[0]
    base = speech.render(text, voice)
    quicker = speech.render(text, Voice(voice.engine, voice.name, 1.1))
    takes = [
        Take(speech.render(text, Voice(voice.engine, voice.name, 0.9)), SR, "tempo -10%"),
        Take(quicker, SR, "tempo +10%"),
        Take(resample(base, round(SR * 0.94), SR), SR, "pitch -6%"),
        Take(resample(base, round(SR * 1.06), SR), SR, "pitch +6%"),
    ]
    native = resample(base, SR, 24000)   # at hibari's own rate (the renderer keeps 16 kHz only)
    return takes + signal_retakes(base, (native, 24000), resample(quicker, round(SR * 1.06), SR), seed)


def signal_retakes(base: np.ndarray, native: tuple[np.ndarray, int], fast: np.ndarray,
                   seed: int) -> list[Take]:
    """Re-takes made from one recording: ``base`` at 16 kHz, ``native`` (samples, rate) at the
    synthesiser's rate, ``fast`` a quicker, higher take for the combined re-take."""
    audio, rate = native
    return [
        Take(gain(base, 6.0), SR, "gain +6 dB"),
        Take(gain(base, -6.0), SR, "gain -6 dB"),
        Take(add_noise(base, 20.0, seed), SR, "noise 20 dB SNR"),
        Take(pad(base, SR, 0.5, 0.2), SR, "padding 500/200 ms"),
        Take(pad(base, SR, 0.1, 0.5), SR, "padding 100/500 ms"),
        Take(resample(base, SR, 8000), 8000, "8 kHz"),
        Take(audio, rate, f"{rate / 1000:g} kHz"),
        Take(resample(audio, rate, 44100), 44100, "44.1 kHz"),
        Take(resample(audio, rate, 48000), 48000, "48 kHz"),
        Take(stereo(base), SR, "stereo"),
        Take(stereo(resample(pad(add_noise(gain(fast, -6.0), 20.0, seed + 1), SR, 0.3, 0.3), SR, 48000)),
             48000, "combined"),
    ]


def tones(seed: int, seconds: float = 1.5) -> np.ndarray:
    """A music-like sequence of harmonic notes at 16 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    out = np.zeros_like(t)
    note_len = int(0.25 * SR)
    for start in range(0, len(t), note_len):
        f0 = 220.0 * 2.0 ** (rng.integers(0, 24) / 12.0)
        seg = t[start:start + note_len]
        for h in (1, 2, 3):
            out[start:start + note_len] += np.sin(2 * np.pi * f0 * h * seg) / h
    return (0.2 * out).astype(np.float32)


def noise(seed: int, seconds: float = 1.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.05 * rng.standard_normal(int(seconds * SR))).astype(np.float32)


def confusables(bank: SpeechBank):
    """(name, 16 kHz audio) of everything that must never hit the cached PHRASES: near
    misses, every phrase in the three other voices, silence, noise and tones."""
    for j, phrase in enumerate(NEAR_MISSES):
        yield f"near miss {phrase!r}", bank.at_16k(phrase, VOICES[j % len(VOICES)])
    for i, phrase in enumerate(PHRASES):
        own = VOICES[i % len(VOICES)]
        for voice in VOICES:
            if voice != own:
                yield f"{phrase!r} by {voice}", bank.at_16k(phrase, voice)
    for k in range(5):
        yield f"silence {k}", np.zeros(16000 + 160 * k, dtype=np.float32)
        yield f"noise {k}", noise(k)
        yield f"tones {k}", tones(k)


def labelled_confusables(bank: SpeechBank):
    """:func:`confusables` with what each really says: ``(name, phrase, 16 kHz audio)``.

    A cached phrase in another voice says that phrase (a cache answer for it is right);
    silence, noise and tones say nothing (``""``).
    """
    labels = [p for p in NEAR_MISSES]
    labels += [p for i, p in enumerate(PHRASES) for v in VOICES if v != VOICES[i % len(VOICES)]]
    labels += [""] * 15
    items = list(confusables(bank))
    assert len(items) == len(labels)
    return [(name, label, audio) for (name, audio), label in zip(items, labels)]


def pair_sides(direction: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(cached sides, asked sides) of :data:`MINIMAL_PAIRS`; direction 0 caches the first."""
    cached = tuple(pair[direction] for pair in MINIMAL_PAIRS)
    asked = tuple(pair[1 - direction] for pair in MINIMAL_PAIRS)
    return cached, asked


def pair_takes(bank: SpeechBank, phrases: tuple[str, ...]):
    """``(name, phrase, Take)``: every re-take kind of each phrase in every voice."""
    for j, phrase in enumerate(phrases):
        for v, voice in enumerate(VOICES):
            for take in retakes(bank, phrase, voice, seed=100 + 4 * j + v):
                yield f"{phrase!r} by {voice}, {take.label}", phrase, take
