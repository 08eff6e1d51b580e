"""A Silero gate on another detector's utterances: speech must be confirmed before it counts.

The energy VAD finds where an utterance starts and ends well (its edges are
what the hang-overs were tuned on), but it opens on anything loud: music,
hum, beeps. Silero tells speech from those far better but measures pauses
differently. :class:`SpeechGate` combines them (``vad="energy+silero"``, the
default of streams): the energy VAD keeps deciding the edges, and an
utterance it opens counts only once Silero has heard speech in it. Until
then nothing of it is reported; if it ends first, it never existed.

Rule: :data:`CONFIRM_WINDOWS` Silero windows (32 ms each), not necessarily in a
row, with a speech probability of at least :data:`CONFIRM_PROBABILITY`. On ten
kinds of non-speech (silence, noise floors, white, pink and brown noise, hum,
tones, ring-back beeps, keyboard clicks, music; 10 s each, three seeds) no
window reached 0.41; on sentences and one-word answers at 5 dB SNR in pink
noise, white noise and music, every clip had at least 3 windows above 0.6
(``lumina.evaluation``; measured with tiny.en's corpus voices, hibari-tts and
espeak-ng). An abrupt switch from one non-speech sound to another (music cut
to white noise) can lift two or three windows above 0.8, hence three windows
at 0.6 rather than Silero's usual 0.5. Silero runs only while an utterance
waits for confirmation, so listening to silence costs nothing more than the
edges' detectors.

Each utterance is judged from a fresh network state, first run over the
``prime_s`` seconds heard just before the utterance's audio (outputs
discarded): a fresh state misjudges its first windows, and state carried
over from earlier speech biases the network towards speech.
"""

from __future__ import annotations

import numpy as np

from lumina.audio.vad.silero_model import WINDOW, SileroModel

__all__ = ["CONFIRM_PROBABILITY", "CONFIRM_WINDOWS", "SpeechGate"]

#: Speech probability a Silero window needs to count towards confirmation.
CONFIRM_PROBABILITY = 0.6
#: Windows (32 ms) that must reach it before an utterance counts as speech.
CONFIRM_WINDOWS = 3


class SpeechGate:
    """Confirms utterances with Silero; one utterance at a time.

    Parameters
    ----------
    probability : float
        See :data:`CONFIRM_PROBABILITY`.
    windows : int
        See :data:`CONFIRM_WINDOWS`.
    prime_s : float
        Seconds of audio before an utterance that prime the network's state.
    """

    def __init__(self, probability: float = CONFIRM_PROBABILITY, windows: int = CONFIRM_WINDOWS,
                 prime_s: float = 0.5) -> None:
        self.probability, self.windows, self.prime_samples = probability, windows, int(prime_s * 16000)
        self._model = SileroModel()
        self._buffer = np.empty(0, np.float32)
        self._count = 0
        self.confirmed = False

    def start(self, before: np.ndarray) -> None:
        """A new utterance: forget the last one, prime the state on the audio ``before`` it."""
        self._model.reset()
        primer = before[max(0, len(before) - self.prime_samples):]
        primer = primer[len(primer) % WINDOW:]  # whole windows, ending where the utterance starts
        if len(primer):
            self._model.probabilities(np.ascontiguousarray(primer, np.float32))
        self._buffer = np.empty(0, np.float32)
        self._count = 0
        self.confirmed = False

    def feed(self, samples: np.ndarray) -> bool:
        """The utterance's next samples; return whether it is confirmed (it stays so)."""
        if self.confirmed:
            return True
        audio = np.concatenate([self._buffer, np.asarray(samples, np.float32)])
        whole = len(audio) - len(audio) % WINDOW
        if whole:
            probabilities = self._model.probabilities(np.ascontiguousarray(audio[:whole]))
            self._count += int(np.count_nonzero(probabilities >= self.probability))
        self._buffer = audio[whole:].copy()
        self.confirmed = self._count >= self.windows
        return self.confirmed
