"""How a :func:`lumina.testing.make_model` model decodes: how sure, and how long.

Two independent options of :func:`~lumina.models.synthetic.make_model`:

``decoding="confident"`` (default) or ``"unsure"``
    The final layer norm's gain scales every logit. The confident gain
    (:data:`CONFIDENT_GAIN`) makes each greedy token almost certain, so
    whisper.cpp never takes its temperature fallback. The unsure gain
    (:data:`UNSURE_GAIN`, a twentieth of it) keeps the argmax but flattens the
    distribution: measured on the tiny.en shape, greedy tokens get
    probabilities of about 0.2-0.3, the average log-probability falls under
    whisper.cpp's ``logprob_thold`` (-1.0), and whisper.cpp throws the greedy
    decode away and samples again at temperature 0.2 with ``best_of`` 5
    decoders (which pass: at 0.2 the distribution is five times sharper).

``lengths="short"`` (default) or ``"realistic"``
    A short model stops after one to three tokens whatever the audio. A
    realistic one decodes about :data:`TOKENS_PER_SECOND` tokens per second of
    sound, as English speech does, in both the full 30 s window and a cut
    encoder context, so benchmarks pay for the decoder steps a real
    transcript costs. See :class:`RealisticLengths` for the mechanism.

    What it gives, measured (text tokens of one greedy pass, whisper.cpp
    1.8.5; ``tests/test_decoding.py`` checks the tiny.en speech-like row):

    ======================================  ====  ====  ====  =====
    audio (seconds)                          1     2     5     10
    ======================================  ====  ====  ====  =====
    tiny.en, speech-like tone, fast          4     7     15    28
    tiny.en, speech-like tone, accurate      4     6     15    28
    tiny.en, espeak-ng sentence, both        3     5     14    26
    base.en, speech-like tone, both          3     6     15    30
    base.en, espeak-ng sentence, both        3     5     14-15 28
    micro, either audio, both                1     3-4   12    26
    ======================================  ====  ====  ====  =====

    Speech-like is ``tests/_engine_util.speechlike`` (a voiced tone, always
    sounding); the espeak-ng sentence has pauses between words, which do not
    count. Digital silence does not count either: a clip padded with zeros
    decodes as many tokens as the clip alone. Fast and accurate decodes agree
    to within one token; so do other seeds, the multilingual shapes and q8_0.
    End of text then ends every transcript, so whisper.cpp's decoder cost
    grows with the audio as it does on real speech (about 10 ms per step for
    tiny.en, 15 ms for base.en on two cores).
"""

from __future__ import annotations

import math

import numpy as np

from lumina.errors import ArgumentError

__all__ = ["CONFIDENT_GAIN", "DECODINGS", "LENGTHS", "RealisticLengths",
           "TOKENS_PER_SECOND", "UNSURE_GAIN", "check_options", "logit_gain"]

#: The values ``decoding=`` takes.
DECODINGS = ("confident", "unsure")
#: The values ``lengths=`` takes.
LENGTHS = ("short", "realistic")
#: Final-norm gain of a confident model: sharp logits, no temperature fallback.
CONFIDENT_GAIN = 4.0
#: Final-norm gain of an unsure model: the same argmax, greedy tokens at p ~ 0.2-0.3.
UNSURE_GAIN = 0.2
#: Tokens per second of sound a ``lengths="realistic"`` model aims at (English speech: about 3).
TOKENS_PER_SECOND = 3.0



def check_options(decoding, lengths) -> None:
    """Raise ArgumentError naming a ``decoding`` or ``lengths`` value that is not offered."""
    if decoding not in DECODINGS:
        raise ArgumentError(f"unknown decoding {decoding!r}; choose one of {list(DECODINGS)}")
    if lengths not in LENGTHS:
        raise ArgumentError(f"unknown lengths {lengths!r}; choose one of {list(LENGTHS)}")


def logit_gain(decoding: str) -> float:
    """The final layer norm's gain for ``decoding``."""
    return UNSURE_GAIN if decoding == "unsure" else CONFIDENT_GAIN


class RealisticLengths:
    """Edits the random tensors so that a transcript's length follows the amount of sound.

    whisper.cpp pads audio with zeros, so padding frames have a flat log-mel
    spectrum; sound does not. The edits build one measurable path through the
    random network and leave the rest random:

    1. **Encoder: a sound detector.** ``conv1`` gets pairs of channels that
       compute ``+g c`` and ``-g c`` for zero-sum spectral patterns ``c``;
       after GELU each pair is about ``g |c|``: 0 on a flat (padded or
       clamped-silent) frame, large on sound. ``conv2`` sums them into residual
       dimension 0, which no encoder block writes or reads. That dimension
       dominates every sounding frame, so ``ln_post`` maps it to about
       ``sqrt(n_state - 1)`` there: a saturated, level-free "sound" flag.
       Residual dimension 1 carries a large marker at position 0 only,
       through the positional embedding: an attention sink present in every
       encoder context, cut or not.
    2. **Decoder: a counter.** Cross-attention head 0 of the last layer has a
       constant query and keys from dimensions 0 and 1, so it weighs the sink
       like :data:`_SINK_FRAMES` sounding frames and ignores padding. Its
       value is the sound flag, so it returns ``o = N / (N + c)`` for ``N``
       sounding frames (``c`` = :data:`_SINK_FRAMES`), whatever the
       context's length. It writes ``-beta * o`` into decoder residual
       dimension 0, to which the positional embedding adds a ramp
       ``beta * o(N_p)``, where ``N_p`` is the number of frames that
       :data:`TOKENS_PER_SECOND` turns into ``p + 0.5`` tokens. Nothing else
       writes or reads that dimension.
    3. **Output: end of text when the ramp passes the count.** Only the
       end-of-text token's embedding has a (large) component on decoder
       dimension 0, so end of text is suppressed while ``ramp(p) < beta * o``
       and wins at the first position past it: after about
       ``TOKENS_PER_SECOND * seconds of sound`` tokens.
    4. **No timestamp tokens.** The final norm outputs a constant on decoder
       dimension 1 (gain 0, a bias), and the timestamp tokens' embeddings
       have a negative weight on it: otherwise a random timestamp token
       now and then wins the argmax and whisper.cpp ends the segment there
       (a timestamp past the end of the audio ends the decode).

    What the token ids are still depends on the random weights (and little on
    the audio's content: the saturated flag makes sounding frames look alike
    to the encoder's output). Tokens count positions after the prompt: a
    multilingual shape's language and task tokens are allowed for, a
    ``prompt=`` shortens the transcript by its length.
    """

    def __init__(self, n_audio_state: int, n_text_state: int, n_text_head: int,
                 n_text_layer: int, n_mels: int, n_vocab: int, english_only: bool, eot: int,
                 seed: int) -> None:
        self.a, self.t, self.n_mels, self.eot = n_audio_state, n_text_state, n_mels, eot
        self.timestamp_begin = n_vocab - _N_TIMESTAMPS
        self.head_dim = n_text_state // n_text_head
        self.last = f"decoder.blocks.{n_text_layer - 1}.cross_attn"
        self.prompt_offset = 0 if english_only else 2  # <|lang|> <|transcribe|> after <|sot|>
        rng = np.random.default_rng([seed, 9])  # its own stream: the random weights stay as they are
        self.patterns = _zero_sum_patterns(rng, n_mels, _PATTERNS)

    def __call__(self, name: str, data: np.ndarray) -> np.ndarray:
        """Return ``data`` (float32, numpy shape ``reversed(ne)``) edited for tensor ``name``."""
        edit = getattr(self, "_" + name.replace(".", "_"), None)
        if edit is not None:
            return edit(data)
        if name.startswith("encoder.blocks."):
            return self._encoder_block(name, data)
        if name.startswith("decoder.blocks."):
            return self._decoder_block(name, data)
        return data

    # -- encoder -------------------------------------------------------------------------------

    def _encoder_conv1_weight(self, w: np.ndarray) -> np.ndarray:  # [a, n_mels, 3]
        for k, pattern in enumerate(self.patterns):
            w[2 * k] = 0.0
            w[2 * k + 1] = 0.0
            w[2 * k, :, 1] = _DETECTOR_GAIN * pattern
            w[2 * k + 1, :, 1] = -_DETECTOR_GAIN * pattern
        return w

    def _encoder_conv2_weight(self, w: np.ndarray) -> np.ndarray:  # [a, a, 3]
        detector = slice(0, 2 * len(self.patterns))
        w[:, detector, :] = 0.0  # only the flag reads the detector channels
        w[_SOUND] = 0.0
        w[_SINK] = 0.0
        w[_SOUND, detector, 1] = 1.0
        return w

    def _encoder_positional_embedding(self, pe: np.ndarray) -> np.ndarray:  # [n_ctx, a]
        pe[:, (_SOUND, _SINK)] = 0.0
        pe[0, _SINK] = _SINK_MARKER
        return pe

    def _encoder_block(self, name: str, w: np.ndarray) -> np.ndarray:
        return _reserve(name, w, (_SOUND, _SINK))

    # -- decoder -------------------------------------------------------------------------------

    def _decoder_positional_embedding(self, pe: np.ndarray) -> np.ndarray:  # [n_text_ctx, t]
        pe[:, _COUNT] = self._ramp(pe.shape[0])
        pe[:, _CONSTANT] = 0.0
        return pe

    def _decoder_token_embedding_weight(self, e: np.ndarray) -> np.ndarray:  # [n_vocab, t]
        e[:, (_COUNT, _CONSTANT)] = 0.0
        e[self.eot, _COUNT] = _EOT_WEIGHT
        # Moderate: the embedding is tied, and faster-whisper feeds a forced <|0.00|> as input.
        e[self.timestamp_begin:, _CONSTANT] = -_TIMESTAMP_PENALTY
        return e

    def _decoder_ln_weight(self, w: np.ndarray) -> np.ndarray:
        self.gain = float(w[_CONSTANT])
        w[_CONSTANT] = 0.0  # the final norm's output there is its bias: exactly constant
        return w

    def _decoder_ln_bias(self, b: np.ndarray) -> np.ndarray:
        b[_COUNT] = 0.0
        b[_CONSTANT] = self.gain
        return b

    def _decoder_block(self, name: str, w: np.ndarray) -> np.ndarray:
        w = _reserve(name, w, (_COUNT, _CONSTANT))
        if not name.startswith(self.last + "."):
            return w
        head = slice(0, self.head_dim)
        part = name[len(self.last) + 1:]
        if part in ("query.weight", "key.weight", "value.weight"):
            w[head] = 0.0
        if part == "query.bias":
            w[head] = 0.0
            w[0] = math.sqrt(self.head_dim)  # whisper.cpp scales q.k by 1/sqrt(head_dim)
        elif part == "key.weight":
            root = math.sqrt(self.a - 1)  # the saturated flag's value after ln_post
            w[0, _SOUND] = (_SINK_SCORE - math.log(_SINK_FRAMES)) / root
            w[0, _SINK] = _SINK_SCORE / root
        elif part == "value.weight":
            # The sink carries the value, sounding frames none: whisper.cpp's CPU flash
            # attention sums values in f16 in position order behind the sink's maximum,
            # and many tiny increments would round away; one exact 1 does not.
            w[0, _SINK] = 1.0 / math.sqrt(self.a - 1)
        elif part == "value.bias":
            w[head] = 0.0
        elif part == "out.weight":  # [t, t]: column j is what head dimension j writes
            w[:, head] = 0.0
            w[_COUNT, 0] = _BETA
        elif part == "out.bias":
            w[_COUNT] = -_BETA * _RAMP_MIDDLE
        return w

    def _ramp(self, n_positions: int) -> np.ndarray:
        """``beta * (m - s(N_p))``: the count ``beta * (s(N) - m)`` falls under minus it at position N * 3 / 50.

        ``s(N) = c / (c + N)`` is the sink's share of the attention with ``N``
        sounding frames; ``m`` (:data:`_RAMP_MIDDLE`) centres the ramp so that the
        dimension stays small in every layer before the count is added.
        """
        # The output at position p (after the prompt) is text token p + 1, so end of text
        # there leaves p text tokens: p is the first position whose p + 1/2 tokens' worth
        # of frames exceeds the count.
        p = np.arange(n_positions, dtype=np.float64) - self.prompt_offset
        frames = np.maximum(p + 0.5, 0.0) * _FRAMES_PER_SECOND / TOKENS_PER_SECOND
        return (_BETA * (_RAMP_MIDDLE - _SINK_FRAMES / (frames + _SINK_FRAMES))).astype(np.float32)


def _reserve(name: str, w: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
    """Keep residual ``dims`` out of a block: nothing in it reads them and nothing writes them."""
    part = name.rsplit(".", 2)
    kind = ".".join(part[-2:])
    if kind in ("out.weight", "2.weight"):  # attention output, second MLP layer: [n_out, n_in]
        w[list(dims)] = 0.0
    elif kind in ("query.weight", "key.weight", "value.weight", "0.weight"):  # [n_out, n_state]
        w[:, list(dims)] = 0.0
    elif kind in ("out.bias", "2.bias"):
        w[list(dims)] = 0.0
    return w


def _zero_sum_patterns(rng: np.random.Generator, n_mels: int, count: int) -> list[np.ndarray]:
    """±1 spectral patterns that sum to zero: low against high bands first, then random halves."""
    half = n_mels // 2
    low_high = np.where(np.arange(n_mels) < half, 1.0, -1.0)
    if n_mels % 2:
        low_high[-1] = 0.0
    patterns = [low_high]
    for _ in range(count - 1):
        signs = np.zeros(n_mels)
        signs[rng.permutation(n_mels)[:2 * half]] = np.repeat([1.0, -1.0], half)
        patterns.append(signs)
    return [p.astype(np.float32) for p in patterns]


_SOUND, _SINK = 0, 1   # encoder residual dimensions of the sound flag and the sink marker
_COUNT, _CONSTANT = 0, 1  # decoder residual dimensions of the ramp and count, and of a constant
_N_TIMESTAMPS = 1501      # <|0.00|> ... <|30.00|>, the last ids of the vocabulary
_PATTERNS = 8
_DETECTOR_GAIN = 256.0  # sound must dominate a frame's residual for the flag to saturate
_SINK_MARKER = 1.0e9     # far above any sound flag (at most 16 * 80 * _DETECTOR_GAIN)
_SINK_SCORE = 30.0     # attention score of the sink; padding scores about 0
_SINK_FRAMES = 750.0   # the sink weighs as much as this many sounding frames (15 s)
_BETA = 40.0
_RAMP_MIDDLE = 0.66    # s(N) runs from 1 (no sound) to 1/3 (30 s of sound)
_EOT_WEIGHT = 4096.0
_TIMESTAMP_PENALTY = 64.0  # times the final norm's gain: about 3 standard deviations of the logits
_FRAMES_PER_SECOND = 50  # encoder positions per second
