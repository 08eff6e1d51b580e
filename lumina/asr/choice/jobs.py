"""What a latency budget is for: the kinds of calls (jobs) and the named budgets (presets).

A budget only means something for a job: 300 ms is generous for a two-second
voice command on the fast path and hopeless for a long file. A :class:`Job`
says how much audio one call holds and at which speed it is decoded, which is
all the cost model needs (:mod:`lumina.asr.choice.cost_model`).

=================  ==========  ==========  ==========================================
job                audio (s)   speed       what it stands for
=================  ==========  ==========  ==========================================
``command``        2           fast        a short voice command ("turn on the lights")
``dictation``      5           accurate    the Final of a dictated sentence
``dictation-fast`` 5           fast        the same with ``speed="fast"``
``partial``        3           fast        a stream's partial of the utterance so far
``file``           30          accurate    one 30 s window of a long file (budget: RTF)
=================  ==========  ==========  ==========================================

The ``file`` job's budget is a real-time factor (seconds of compute per second
of audio), the others' are seconds per call.

Presets (``latency=`` as a word, ``lumina models recommend --latency``):
``"interactive"`` a command within :data:`INTERACTIVE_S`; ``"dictation"`` a
sentence's Final within :data:`FINAL_GOAL_S` (also the goal a
:class:`~lumina.Stream` picks its final model for); ``"batch"`` a long file at
:data:`BATCH_RTF` of real time.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

from lumina.errors import ArgumentError

__all__ = ["BATCH_RTF", "FINAL_GOAL_S", "INTERACTIVE_S", "JOBS", "Job", "PRESETS", "resolve_budget"]


@dataclasses.dataclass(frozen=True)
class Job:
    """One kind of transcription call, as the cost model sees it.

    Attributes
    ----------
    name : str
        ``"command"``, ``"dictation"``, ``"dictation-fast"``, ``"partial"`` or ``"file"``.
    audio_seconds : float
        Seconds of speech in one call.
    speed : str
        ``"accurate"`` (the full 30 s encoder window) or ``"fast"`` (the encoder
        context cut to the audio: :func:`lumina.asr.speed.fast_audio_ctx`).
    per_audio_second : bool
        True when the budget is a real-time factor (``file``), False when it is
        seconds per call.
    description : str
        What it stands for, in words.
    """

    name: str
    audio_seconds: float
    speed: str
    per_audio_second: bool
    description: str

    def budget_text(self, budget: float) -> str:
        """A budget for this job in words: ``"300 ms"`` or ``"RTF 0.50"``."""
        return f"RTF {budget:.2f}" if self.per_audio_second else f"{budget * 1000:.0f} ms"

    def format_seconds(self, seconds: float) -> str:
        """A predicted or measured time of one call in the budget's unit."""
        return self.budget_text(seconds / self.audio_seconds if self.per_audio_second else seconds)

    def in_budget_units(self, seconds: float) -> float:
        """Seconds of one call in the budget's unit (a real-time factor for ``file``)."""
        return seconds / self.audio_seconds if self.per_audio_second else seconds


#: The jobs by name (see the module documentation).
JOBS: dict[str, Job] = {j.name: j for j in (
    Job("command", 2.0, "fast", False, "a 2 s voice command, fast path"),
    Job("dictation", 5.0, "accurate", False, "the Final of a 5 s dictated sentence, accurate path"),
    Job("dictation-fast", 5.0, "fast", False, "a 5 s dictated sentence, fast path"),
    Job("partial", 3.0, "fast", False, "a stream partial of 3 s of speech, fast path"),
    Job("file", 30.0, "accurate", True, "a long file, per 30 s window, accurate path"),
)}

#: Budget of ``latency="interactive"``: a voice command answered within 300 ms.
INTERACTIVE_S = 0.3
#: Budget of ``latency="dictation"`` and the goal of a stream's Final: 1 s after the speech.
FINAL_GOAL_S = 1.0
#: Budget of ``latency="batch"``: a long file in half its playing time.
BATCH_RTF = 0.5
#: Preset name -> (job name, budget in the job's unit).
PRESETS: dict[str, tuple[str, float]] = {
    "interactive": ("command", INTERACTIVE_S),
    "dictation": ("dictation", FINAL_GOAL_S),
    "batch": ("file", BATCH_RTF),
}


def resolve_budget(latency, job: str | None = None) -> tuple[Job, float]:
    """Turn ``latency=`` (and ``job=``) into a job and a budget in that job's unit.

    Parameters
    ----------
    latency : str or float
        A preset name (:data:`PRESETS`) or a number: seconds per call, or a
        real-time factor for the ``file`` job.
    job : str, optional
        A name from :data:`JOBS`. Default: the preset's job, else ``"dictation"``.

    Raises
    ------
    ArgumentError
        An unknown preset or job, a budget that is not a positive finite number.
    """
    if job is not None and job not in JOBS:
        raise ArgumentError(f"unknown job {job!r}; choose one of {', '.join(JOBS)}")
    if isinstance(latency, str):
        if latency not in PRESETS:
            raise ArgumentError(f"unknown latency preset {latency!r}; use one of "
                                f"{', '.join(PRESETS)} or a number of seconds")
        preset_job, budget = PRESETS[latency]
        if job is not None and job != preset_job:
            raise ArgumentError(f"latency={latency!r} is a budget for the {preset_job!r} job; "
                                f"for job={job!r} give the budget as a number")
        return JOBS[preset_job], budget
    if (isinstance(latency, bool) or not isinstance(latency, numbers.Real)
            or not math.isfinite(latency) or latency <= 0):
        raise ArgumentError(f"latency must be a preset ({', '.join(PRESETS)}) or a number of "
                            f"seconds > 0, got {latency!r}")
    return JOBS[job or "dictation"], float(latency)
