"""lumina on a Ray cluster (``pip install 'lumina[ray]'``): archives, and serving.

:func:`transcribe_archive` (and ``lumina transcribe --ray``) spreads files
over a pool of Ray actors, each holding one :class:`lumina.Engine`, and
writes exactly the files the local ``lumina transcribe --output`` writes.

Modules: :mod:`.planner` (inputs to jobs, skip-complete), :mod:`.worker`
(the actor), :mod:`.dispatcher` (dispatch, retries after a lost worker),
:mod:`.progress` (the bar), :mod:`.archive` (the function),
:mod:`.command` (the CLI option). Ray is imported only when a run starts;
:mod:`.connection` connects so that the workers import the lumina installed on their
node wherever the command runs (a checkout's unbuilt ``lumina/`` stays out of their path).

Serving (``lumina serve --ray``): :mod:`.serve` (the Serve application, the
``RayService`` builder, the run), :mod:`.replica` (what each replica adds to
the server app), :mod:`.routing` (the request router), :mod:`.serve_command`
(the CLI options).
"""

from lumina.apps.distributed.archive import transcribe_archive
from lumina.apps.distributed.planner import AUDIO_SUFFIXES, plan_jobs
from lumina.apps.distributed.records import ArchiveReport, FileResult

__all__ = ["AUDIO_SUFFIXES", "ArchiveReport", "FileResult", "plan_jobs", "transcribe_archive"]
