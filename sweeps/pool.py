"""A pool of steady-state Ray actors, and the queries it answers after a sweep.

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

After a sweep the pool can be kept (``run_sweep(..., keep_pool=True)``) to ask
each actor about the steady state it holds: its moments, or a region shock
solved from it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import ray

from hetspace.core.errors import HetspaceError

from .actors import SteadyStateActor, Task

logger = logging.getLogger(__name__)

MAX_RESTARTS = 3
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
                 actor_class: type = SteadyStateActor, actor_kwargs: dict[str, Any] | None = None):
        if n < 1:
            raise ValueError(f"a pool needs at least one actor, got {n}")
        self.model = model
        self.cpus_per_actor = cpus_per_actor
        self.max_restarts = max_restarts
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

    def __len__(self) -> int:
        return len(self.actors)

    def submit(self, i: int, task: Task) -> ray.ObjectRef:
        """Start evaluating ``task`` on actor ``i``; returns the reference to its row."""
        return self.actors[i].evaluate.remote(task, seq=self._number(i))

    def submit_batch(self, i: int, tasks: list[Task]) -> ray.ObjectRef:
        """Start evaluating ``tasks`` in order on actor ``i``; resolves to their rows."""
        return self.actors[i].evaluate_batch.remote(list(tasks), seq=self._number(i))

    def sent(self, i: int) -> int:
        """Calls numbered for actor ``i`` so far (the last one's number is this - 1)."""
        return self._sent[i]

    def withdraw(self, i: int, seq: int) -> ray.ObjectRef:
        """Ask actor ``i`` to withdraw its call numbered ``seq`` if that has not started
        (the call then resolves to ``WITHDRAWN``); resolves to whether it was withdrawn."""
        return self.actors[i].withdraw.options(concurrency_group=CONTROL).remote(seq)

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
