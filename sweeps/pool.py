r"""A pool of steady-state Ray actors, and the queries it answers after a sweep.

Actors get explicit ``num_cpus``, ``max_restarts`` > 0 and
``max_task_retries = 0``: Ray restarts a dead actor process but never replays
a call itself; the driver (:mod:`hetspace.sweeps.scheduler`) resubmits the
calls that a dead actor lost. Each actor runs its calls on ``THREADS`` = 2
threads, one solving while the next call waits, received and unpacked, for its
turn (:func:`~hetspace.sweeps.actors.serial`); the pool numbers each actor's
calls so that they run in the order sent, and a call that has not started can be
withdrawn (:meth:`SteadyStatePool.withdraw`). Pings and withdrawals have a
thread of their own. On a single-threaded actor Ray's work between two calls
runs on the thread that solves: with the next call already queued, an actor
idled a median 1.5-3.2 ms between calls of 20-100 ms on 2 cores, against
0.2-1.3 ms with two threads (``benchmarks/actor_calls.py``; no difference for
calls under 5 ms). In a 64-point Huggett sweep on 2 actors that took the
overhead per point from 6.4% to 3.3% of a solve (``benchmarks/sweeps.py``).
The price: the result of a call may still be on its way out when the next call
kills the process; that call is then lost too, its points counted and retried
like those of the running call (each is still delivered once).

The pool is the one farm both drivers use: the sweeps' scheduler
(:func:`~hetspace.sweeps.scheduler.run_jobs`: chains, batches, stealing,
withdrawals) and the estimation's evaluator (trials placed on the actor that
holds the nearest point). It keeps what they share: each actor's health
(ready; restarting, pinged until it answers; dead, after more deaths than its
restarts allow or ``max_pings`` unanswered pings), the calls in flight (each a
:class:`Call`, numbered on its actor), and :meth:`SteadyStatePool.wait`, which
turns what Ray returns into :class:`Event`\ s: a call's evaluations, a call
withdrawn, lost with its actor or raising, a withdrawal refused, an actor back or
gone. Each call's result is delivered once. One driver at a time waits on a pool.

After a sweep the pool can be kept (``run_sweep(..., keep_pool=True)``) to ask
each actor about the steady state it holds: its moments, or a region shock
solved from it.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import time
from collections.abc import Sequence
from typing import Any

import ray
from ray.exceptions import RayActorError, RayError, RayTaskError

from hetspace.core.errors import HetspaceError

from .actors import Evaluation, Status, SteadyStateActor, Task

logger = logging.getLogger(__name__)

MAX_RESTARTS = 3
#: pings of a restarting actor before it is given up (each fails within about a second)
MAX_PINGS = 30
#: threads per actor: one solves, one holds the next call (see the module docstring)
THREADS = 2
#: the concurrency group (one more thread) of pings, answered while both threads are busy
CONTROL = "control"
#: seconds ``wait_ready`` waits for the actors to start before it gives up, and between
#: two warnings while it waits (actors start in seconds when Ray has CPUs for them)
READY_TIMEOUT = 300.0
READY_REPORT = 15.0


class ActorsNotReadyError(HetspaceError, RuntimeError):
    """The pool's actors did not start in time (Ray had no CPUs for them)."""


class AllActorsGoneError(HetspaceError, RuntimeError):
    """Every actor of the pool died more often than Ray may restart it."""


class Health(enum.StrEnum):
    """An actor as the driver sees it."""

    READY = "ready"
    RESTARTING = "restarting"  # died; pinged until it answers
    DEAD = "dead"  # died more often than its restarts allow, or never answered


class Kind(enum.StrEnum):
    """What an :class:`Event` reports."""

    DONE = "done"  # a call's evaluations came back
    WITHDRAWN = "withdrawn"  # a call came back unstarted (its withdrawal succeeded)
    LOST = "lost"  # a call died with its actor
    RAISED = "raised"  # a call raised (a bug in the actor, not a failed solve)
    KEPT = "kept"  # a withdrawal was refused: the call had started
    BACK = "back"  # a restarted actor answered its ping
    GONE = "gone"  # an actor was given up


@dataclasses.dataclass(eq=False)
class Call:
    """One call in flight: its actor, tasks, the actor's incarnation when it was sent
    (``generation``), the time it was sent, its number on the actor and what the
    driver attached to it (``tag``)."""

    actor: int
    tasks: tuple[Task, ...]
    generation: int
    t0: float
    seq: int
    tag: Any = None


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """Something :meth:`SteadyStatePool.wait` saw: ``kind``, the call it concerns (if
    any), the call's evaluations (``DONE``), the error (``LOST``, ``RAISED``), the
    actor (``BACK``, ``GONE``), and the call's round trip in seconds (``DONE``)."""

    kind: Kind
    call: Call | None = None
    evaluations: tuple[Evaluation, ...] = ()
    error: BaseException | None = None
    actor: int | None = None
    t_roundtrip: float | None = None


class SteadyStatePool:
    """``n`` steady-state actors of one model. Index actors 0..n-1.

    ``actor_class`` (a :class:`SteadyStateActor` subclass) and ``actor_kwargs``
    (its extra keyword arguments) let other packages (estimation) reuse the pool.
    ``sleep`` (the debug hook: seconds before each evaluation) may be one value per
    actor, to make one actor slower than the others.
    """

    def __init__(self, model: str, n: int, *, cpus_per_actor: int = 1,
                 crash_after: int | None = None, crash_marker: str | None = None,
                 sleep: float | Sequence[float] = 0.0, max_restarts: int = MAX_RESTARTS,
                 max_pings: int = MAX_PINGS, actor_class: type = SteadyStateActor,
                 actor_kwargs: dict[str, Any] | None = None):
        if n < 1:
            raise ValueError(f"a pool needs at least one actor, got {n}")
        self.model = model
        self.cpus_per_actor = cpus_per_actor
        self.max_restarts, self.max_pings = max_restarts, max_pings
        remote = ray.remote(max_concurrency=THREADS, concurrency_groups={CONTROL: 1})(
            actor_class).options(num_cpus=cpus_per_actor, max_restarts=max_restarts,
                                 max_task_retries=0)
        extra = dict(actor_kwargs or {})
        sleeps = [float(sleep)] * n if isinstance(sleep, int | float) else list(sleep)
        if len(sleeps) != n:
            raise ValueError(f"sleep: one value per actor ({n}), got {len(sleeps)}")
        self.actors = [remote.remote(model, cpus_per_actor, crash_after, crash_marker, t,
                                     **extra) for t in sleeps]
        self._sent = [0] * n  # calls numbered so far, per actor (their order on it)
        self.health = [Health.READY] * n
        self.generation = [0] * n  # incarnation of each actor process, as the driver saw it
        self._calls: dict[ray.ObjectRef, Call] = {}
        self._pings: dict[ray.ObjectRef, tuple[int, int]] = {}  # (actor, pings before)
        self._withdrawals: dict[ray.ObjectRef, Call] = {}

    def __len__(self) -> int:
        return len(self.actors)

    def submit(self, i: int, tasks: Sequence[Task], tag: Any = None) -> Call:
        """Start evaluating ``tasks`` in order on actor ``i`` (queued behind its calls
        in flight); ``tag``: the driver's own record of the call."""
        if self.health[i] is not Health.READY:
            raise RuntimeError(f"actor {i} is {self.health[i]}, not ready for calls")
        seq = self._number(i)
        ref = self.actors[i].evaluate_batch.remote(list(tasks), seq=seq)
        call = Call(i, tuple(tasks), self.generation[i], time.perf_counter(), seq, tag)
        self._calls[ref] = call
        return call

    def in_flight(self, i: int | None = None) -> list[Call]:
        """The calls sent and not yet returned by :meth:`wait` (of actor ``i``), in the
        order they were numbered."""
        calls = [c for c in self._calls.values() if i is None or c.actor == i]
        return sorted(calls, key=lambda c: (c.actor, c.seq))

    def load(self, i: int) -> int:
        """Calls of actor ``i`` in flight."""
        return sum(1 for c in self._calls.values() if c.actor == i)

    def up(self) -> list[int]:
        """The actors ready for calls."""
        return [i for i, h in enumerate(self.health) if h is Health.READY]

    @property
    def live(self) -> int:
        """Actors not given up."""
        return sum(h is not Health.DEAD for h in self.health)

    def busy(self) -> bool:
        """Whether :meth:`wait` has anything to wait for."""
        return bool(self._calls or self._pings or self._withdrawals)

    def restarting(self) -> bool:
        """Whether some actor is restarting (pinged until it answers)."""
        return bool(self._pings)

    def forget(self, call: Call) -> None:
        """Drop ``call`` (its result, when it comes, is ignored)."""
        for ref, c in list(self._calls.items()):
            if c is call:
                del self._calls[ref]

    def sent(self, i: int) -> int:
        """Calls numbered for actor ``i`` so far (the last one's number is this - 1)."""
        return self._sent[i]

    def withdraw(self, call: Call) -> None:
        """Ask the actor of ``call`` to withdraw it if it has not started. If it had not,
        the call comes back as a ``WITHDRAWN`` event; if it had, a ``KEPT`` event
        says so (and the call's evaluations follow as usual)."""
        ref = self.actors[call.actor].withdraw.options(concurrency_group=CONTROL).remote(
            call.seq)
        self._withdrawals[ref] = call

    def wait(self, timeout: float | None = None) -> list[Event]:
        """What happened next: the events of every reference that is ready once one
        is, or none after ``timeout`` seconds (None: wait until one is)."""
        waiting = [*self._calls, *self._pings, *self._withdrawals]
        if not waiting:
            return []
        ready, rest = ray.wait(waiting, num_returns=1, timeout=timeout)
        if ready and rest:
            ready += ray.wait(rest, num_returns=len(rest), timeout=0)[0]
        events: list[Event] = []
        for ref in ready:
            if ref in self._pings:
                events += self._pinged(ref)
            elif ref in self._withdrawals:
                events += self._answered(ref)
            else:
                events += self._returned(ref)
        return events

    def wait_up(self) -> None:
        """Block until some actor is ready (answering the pings of restarting ones);
        :class:`AllActorsGoneError` if none is left. Only while no call is in flight."""
        if self._calls:
            raise RuntimeError("wait_up while calls are in flight would drop their results")
        while not self.up():
            if not self._pings:
                raise AllActorsGoneError("every actor died more often than Ray may "
                                         "restart it")
            self.wait()

    def _returned(self, ref: ray.ObjectRef) -> list[Event]:
        call = self._calls.pop(ref)
        try:
            result = ray.get(ref)
        except RayActorError as e:
            return [Event(Kind.LOST, call, error=e), *self._died(call, e)]
        except RayTaskError as e:
            return [Event(Kind.RAISED, call, error=e)]
        if isinstance(result, str) and result == Status.WITHDRAWN:
            return [Event(Kind.WITHDRAWN, call)]
        return [Event(Kind.DONE, call, evaluations=tuple(result),
                      t_roundtrip=time.perf_counter() - call.t0)]

    def _died(self, call: Call, error: Exception) -> list[Event]:
        """The first lost call of an incarnation: the actor restarts, or is given up."""
        i = call.actor
        if call.generation != self.generation[i] or self.health[i] is not Health.READY:
            return []
        self.generation[i] += 1
        logger.warning("actor %d died (%s); its calls are lost", i, type(error).__name__)
        if self.generation[i] > self.max_restarts:
            return self._give_up(i)
        self.health[i] = Health.RESTARTING
        self._pings[self.ping(i)] = (i, 0)
        return []

    def _pinged(self, ref: ray.ObjectRef) -> list[Event]:
        i, before = self._pings.pop(ref)
        try:
            ray.get(ref)
        except RayActorError:
            if before + 1 >= self.max_pings:
                return self._give_up(i)
            self._pings[self.ping(i)] = (i, before + 1)
            return []
        self.health[i] = Health.READY
        logger.info("actor %d is back", i)
        return [Event(Kind.BACK, actor=i)]

    def _answered(self, ref: ray.ObjectRef) -> list[Event]:
        call = self._withdrawals.pop(ref)
        try:
            withdrawn = bool(ray.get(ref))
        except RayError:  # the actor died or is unreachable: the call's own result tells
            withdrawn = False
        return [] if withdrawn else [Event(Kind.KEPT, call)]

    def _give_up(self, i: int) -> list[Event]:
        logger.warning("actor %d is gone for good", i)
        self.health[i] = Health.DEAD
        return [Event(Kind.GONE, actor=i)]

    def _number(self, i: int) -> int:
        self._sent[i] += 1
        return self._sent[i] - 1

    def ping(self, i: int) -> ray.ObjectRef:
        """A reference that resolves (to the process id) once actor ``i`` is up."""
        return self.actors[i].ping.options(concurrency_group=CONTROL).remote(self._sent[i])

    def wait_ready(self, timeout: float | None = None) -> list[int]:
        """Block until every actor has started (imports, numba caches); their process ids.

        Every ``READY_REPORT`` seconds of waiting a warning says how many actors are
        still pending and what Ray has free (other jobs may hold the CPUs);
        after ``timeout`` seconds (None: ``READY_TIMEOUT``) :class:`ActorsNotReadyError`.
        """
        timeout = READY_TIMEOUT if timeout is None else timeout
        refs = [self.ping(i) for i in range(len(self.actors))]
        t0 = time.monotonic()
        pending = refs
        while pending:
            left = timeout - (time.monotonic() - t0)
            if left <= 0:
                raise ActorsNotReadyError(
                    f"{len(pending)} of {len(refs)} actors ({self.cpus_per_actor} CPU(s) each) "
                    f"did not start within {timeout:.0f} s; {_cpus_text()}: other jobs may "
                    "hold the CPUs, or lower the number of actors")
            _, pending = ray.wait(pending, num_returns=len(pending),
                                  timeout=min(READY_REPORT, left))
            if pending and time.monotonic() - t0 < timeout:
                logger.warning("waiting for %d of %d actors to start (%.0f s); %s",
                               len(pending), len(refs), time.monotonic() - t0, _cpus_text())
        return ray.get(refs)

    def held(self) -> list[dict[str, Any] | None]:
        """For each actor, the key and moments of the steady state it holds (or None)."""
        return ray.get([a.held_info.remote() for a in self.actors])

    def moments(self, i: int) -> dict[str, float]:
        """Moments of the steady state actor ``i`` holds."""
        info = ray.get(self.actors[i].held_info.remote())
        if info is None:
            raise RuntimeError(f"actor {i} holds no steady state")
        return info["moments"]

    def region_shock(self, location: int, size: float,
                     actors: list[int] | None = None) -> list[dict[str, Any]]:
        """A region shock solved from each (or the chosen) actor's held steady state."""
        chosen = range(len(self.actors)) if actors is None else actors
        return ray.get([self.actors[i].region_shock.remote(location, size) for i in chosen])

    def transition(self, location: int, size: float, horizon: int,
                   at: tuple[int, ...] = (1, 5, 10, 25),
                   actors: list[int] | None = None) -> list[dict[str, Any]]:
        """The transition after a permanent region shock from each (or the chosen)
        actor's held steady state: statistics by ``ModelSpec.dynamics``."""
        chosen = range(len(self.actors)) if actors is None else actors
        return ray.get([self.actors[i].transition.remote(location, size, horizon, tuple(at))
                        for i in chosen])

    def shutdown(self) -> None:
        """Kill the actors (no restart)."""
        for actor in self.actors:
            ray.kill(actor, no_restart=True)
        self.actors = []

    def __enter__(self) -> SteadyStatePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def _cpus_text() -> str:
    free = ray.available_resources().get("CPU", 0.0)
    total = ray.cluster_resources().get("CPU", 0.0)
    return f"the Ray cluster has {free:g} of {total:g} CPUs free"
