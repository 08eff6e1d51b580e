"""The scheduler's fault handling, on a stand-in for Ray whose workers fail exactly when told.

A fake actor runs its calls in order, as a Ray actor does: a file named
``poison*`` kills the worker when it starts on it, so the calls queued behind
it fail as they would on a dead actor. The real cluster tests
(test_distributed.py) cover the same paths with real processes; these pin
down the counts (attempts, retries, replacements) that timing makes vary there.
"""

from __future__ import annotations

import collections
import itertools

import pytest

from lumina.apps.distributed.records import Outcome, WorkerInfo
from lumina.apps.distributed.dispatcher import Dispatcher
from lumina.errors import LuminaError, ModelIntegrityError, ModelNotFoundError


class RayError(Exception):
    pass


class ActorDiedError(RayError):
    pass


class RayTaskError(RayError):
    def __init__(self, cause):
        super().__init__(str(cause))
        self.cause = cause


class FakeRef:
    def __init__(self, actor, call):
        self.actor, self.call = actor, call
        self.done, self.value, self.error = False, None, None


class FakeActor:
    """Runs its calls in order; ``poison*`` kills it; ``raise*`` makes the call raise."""

    pids = itertools.count(100)

    def __init__(self, start_error=None, digest="d1"):
        self.pid = next(self.pids)
        self.start_error, self.digest = start_error, digest
        self.calls: list[FakeRef] = []
        self.dead = False
        self.files: list[str] = []
        self.ready = _Method(self, lambda: ("ready",))
        self.transcribe = _Method(self, lambda source: ("transcribe", source))

    def run_until(self, ref):
        for call in self.calls:
            if not call.done:
                self._run(call)
            if call is ref:
                return

    def _run(self, ref):
        ref.done = True
        if self.dead:
            ref.error = ActorDiedError("the actor died")
        elif ref.call[0] == "ready":
            if self.start_error is not None:
                self.dead = isinstance(self.start_error, ActorDiedError)
                ref.error = self.start_error
            else:
                ref.value = WorkerInfo("node-a" if self.pid % 2 else "node-b", self.pid, self.digest)
        else:
            source = ref.call[1]
            self.files.append(source)
            if source.startswith("poison"):
                self.dead = True
                ref.error = ActorDiedError("the actor died")
            elif source.startswith("raise"):
                ref.error = RayTaskError(MemoryError("out of memory in the worker"))
            else:
                ref.value = Outcome(source, f"text of {source}\n", None, None, 2.0,
                                    "node-a" if self.pid % 2 else "node-b", self.pid)


class _Method:
    def __init__(self, actor, call):
        self.actor, self.call = actor, call

    def remote(self, *args):
        ref = FakeRef(self.actor, self.call(*args))
        self.actor.calls.append(ref)
        return ref


class FakeRay:
    class exceptions:
        RayError = RayError
        RayTaskError = RayTaskError

    def __init__(self):
        self.killed = []

    def wait(self, refs, num_returns=1, timeout=None):
        return refs[:num_returns], refs[num_returns:]  # the oldest calls first: deterministic

    def get(self, ref):
        ref.actor.run_until(ref)
        if ref.error is not None:
            raise ref.error
        return ref.value

    def kill(self, handle):
        self.killed.append(handle)


def run(tmp_path, files, actors=2, spawn=None, max_attempts=3):
    from lumina.apps.distributed.records import FileJob

    made = []

    def default_spawn():
        made.append(FakeActor())
        return made[-1]

    results = []
    ray = FakeRay()
    jobs = [FileJob(name, str(tmp_path / f"{name}.txt")) for name in files]
    scheduler = Dispatcher(ray, spawn or default_spawn, jobs, actors=actors, in_flight=2,
                          max_attempts=max_attempts, on_result=results.append)
    scheduler.run()
    return scheduler, results, made, ray


def outputs(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir())


def test_a_file_that_kills_every_worker_fails_after_max_attempts_and_its_neighbours_do_not(
        tmp_path):
    scheduler, results, made, ray = run(tmp_path, ["a", "poison", "b", "c", "d"])
    by_source = {r.source: r for r in results}
    assert len(results) == 5 and sorted(by_source) == ["a", "b", "c", "d", "poison"]
    assert by_source["poison"].error == ("poison: the worker died 3 times while transcribing it "
                                         "(last: ActorDiedError)")
    assert by_source["poison"].attempts == 3
    assert sorted((r.source, r.attempts) for r in results if r.ok) == [
        ("a", 1), ("b", 1), ("c", 1), ("d", 1)]
    assert outputs(tmp_path) == ["a.txt", "b.txt", "c.txt", "d.txt"]
    assert (tmp_path / "b.txt").read_text() == "text of b\n"
    assert scheduler.workers_lost == 3 and len(made) == 2 + 3
    # The first death also sends back "d", queued behind "poison" on that worker, uncharged.
    assert scheduler.retries == 2 + 1
    assert [f for actor in made for f in actor.files].count("poison") == 3
    assert ray.killed == made  # every worker is stopped at the end


def test_a_call_that_raises_fails_its_file_once_without_a_retry(tmp_path):
    scheduler, results, made, _ = run(tmp_path, ["a", "raise-me", "b"])
    failed = [r for r in results if not r.ok]
    assert [(r.source, r.error, r.error_type, r.attempts) for r in failed] == [
        ("raise-me", "raise-me: out of memory in the worker", "MemoryError", 1)]
    assert scheduler.retries == 0 and scheduler.workers_lost == 0 and len(made) == 2
    assert outputs(tmp_path) == ["a.txt", "b.txt"]


def test_a_node_without_the_model_stops_the_run_with_its_error(tmp_path):
    missing = ModelNotFoundError("no model file at /models/x.bin")
    actors = iter([FakeActor(), FakeActor(start_error=RayTaskError(missing))])
    with pytest.raises(ModelNotFoundError, match="no model file at /models/x.bin"):
        run(tmp_path, ["a", "b"], spawn=lambda: next(actors))
    assert outputs(tmp_path) == []


def test_nodes_with_different_model_files_stop_the_run(tmp_path):
    actors = iter([FakeActor(digest="aaa"), FakeActor(digest="bbb")])
    with pytest.raises(ModelIntegrityError, match="sha256 aaa on node .*, bbb on node "):
        run(tmp_path, ["a", "b"], spawn=lambda: next(actors))
    assert outputs(tmp_path) == []


def test_when_no_worker_can_start_the_run_stops_with_the_reason(tmp_path):
    count = collections.Counter()

    def spawn():
        count["started"] += 1
        return FakeActor(start_error=ActorDiedError("worker process exited: libfoo.so missing"))

    with pytest.raises(LuminaError, match=r"^no worker could be started \(worker process exited: "
                                          r"libfoo.so missing\); 2 files were not transcribed "
                                          r"\(a re-run picks them up\)$"):
        run(tmp_path, ["a", "b"], actors=2, spawn=spawn)
    assert count["started"] == 2 + 2  # the first two, then one replacement per worker
    assert outputs(tmp_path) == []
