"""Counters of a stream's work: updated in place by its threads, read as a frozen snapshot."""

from __future__ import annotations

import dataclasses

from lumina.audio.convert import SAMPLE_RATE

__all__ = ["StreamStats"]


@dataclasses.dataclass(frozen=True)
class StreamStats:
    """Counters of a stream's work so far.

    Attributes
    ----------
    audio_s : float
        Seconds of audio the pipeline has read.
    partial_decodes, final_decodes : int
        Decodes run, aborted ones included: partial decodes count the complete
        partials of speculations, final decodes the speculative finals.
    skipped_steps : int
        Partial steps skipped because a decode was still running.
    decode_s : float
        Wall time spent decoding.
    segment_s : float
        Wall time spent in voice activity detection and scheduling.
    dropped_samples : int
        Samples (16 kHz) lost at the ring buffer.
    speculations : int
        Utterances decoded eagerly when their speech stopped, before the
        hang-over confirmed the end (each such decode once, discarded or not).
    speculative_discarded : int
        Speculations thrown away (aborted or unused) because speech resumed.
    speculative_used : int
        Finals answered by a speculation: the decode of exactly the audio
        speculated on, made before the hang-over confirmed it (in lockstep,
        where waiting gains nothing, when it confirmed it).
    """

    audio_s: float = 0.0
    partial_decodes: int = 0
    final_decodes: int = 0
    skipped_steps: int = 0
    decode_s: float = 0.0
    segment_s: float = 0.0
    dropped_samples: int = 0
    speculations: int = 0
    speculative_discarded: int = 0
    speculative_used: int = 0


class Counters:
    """The live counters behind :class:`StreamStats` (no object is built per chunk).

    Each field has one writer thread (the pipeline counts audio, segmenting and
    drops; the decoder counts decodes), so updates need no lock; a snapshot
    may mix values a moment apart.
    """

    def __init__(self) -> None:
        self.samples = 0
        self.partial_decodes = 0
        self.final_decodes = 0
        self.decode_s = 0.0
        self.segment_s = 0.0
        self.dropped_samples = 0
        self.speculations = 0
        self.speculative_discarded = 0
        self.speculative_used = 0

    def chunk(self, samples: int, segment_s: float) -> None:
        """A chunk of ``samples`` was read and segmented in ``segment_s`` seconds (pipeline thread)."""
        self.samples += samples
        self.segment_s += segment_s

    def segmenting(self, seconds: float) -> None:
        """Time spent segmenting outside a chunk (the flush; pipeline thread)."""
        self.segment_s += seconds

    def decode(self, final: bool, seconds: float) -> None:
        """A decode ran for ``seconds`` (decoder thread)."""
        if final:
            self.final_decodes += 1
        else:
            self.partial_decodes += 1
        self.decode_s += seconds

    def dropped(self, samples: int) -> None:
        """Samples lost at a source's ring (pipeline thread)."""
        self.dropped_samples += samples

    def speculation(self) -> None:
        """A speculation was taken up (decoder thread)."""
        self.speculations += 1

    def speculation_discarded(self) -> None:
        """A speculation's work was thrown away (decoder thread)."""
        self.speculative_discarded += 1

    def speculation_used(self) -> None:
        """A final was answered by its speculation (decoder thread)."""
        self.speculative_used += 1

    def snapshot(self, skipped_steps: int) -> StreamStats:
        return StreamStats(self.samples / SAMPLE_RATE, self.partial_decodes, self.final_decodes,
                           skipped_steps, self.decode_s, self.segment_s, self.dropped_samples,
                           self.speculations, self.speculative_discarded, self.speculative_used)
