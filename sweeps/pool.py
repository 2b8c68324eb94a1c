"""A pool of steady-state Ray actors, and the queries it answers after a sweep.

Actors get explicit ``num_cpus``, ``max_restarts`` > 0 and
``max_task_retries = 0``: Ray restarts a dead actor process but never replays
a call itself; the driver (:mod:`hetspace.sweeps.scheduler`) resubmits the
calls that a dead actor lost. After a sweep the pool can be kept
(``run_sweep(..., keep_pool=True)``) to ask each actor about the steady state
it holds: its moments, or a region shock solved from it.
"""

from __future__ import annotations

import logging
from typing import Any

import ray

from .actors import SteadyStateActor, Task

logger = logging.getLogger(__name__)

MAX_RESTARTS = 3


class SteadyStatePool:
    """``n`` steady-state actors of one model. Index actors 0..n-1.

    ``actor_class`` (a :class:`SteadyStateActor` subclass) and ``actor_kwargs``
    (its extra keyword arguments) let other packages (estimation) reuse the pool.
    """

    def __init__(self, model: str, n: int, *, cpus_per_actor: int = 1,
                 crash_after: int | None = None, crash_marker: str | None = None,
                 sleep: float = 0.0, max_restarts: int = MAX_RESTARTS,
                 actor_class: type = SteadyStateActor, actor_kwargs: dict[str, Any] | None = None):
        if n < 1:
            raise ValueError(f"a pool needs at least one actor, got {n}")
        self.model = model
        self.cpus_per_actor = cpus_per_actor
        self.max_restarts = max_restarts
        remote = ray.remote(actor_class).options(
            num_cpus=cpus_per_actor, max_restarts=max_restarts, max_task_retries=0)
        extra = dict(actor_kwargs or {})
        self.actors = [remote.remote(model, cpus_per_actor, crash_after, crash_marker, sleep,
                                     **extra) for _ in range(n)]

    def __len__(self) -> int:
        return len(self.actors)

    def submit(self, i: int, task: Task) -> ray.ObjectRef:
        """Start evaluating ``task`` on actor ``i``; returns the reference to its row."""
        return self.actors[i].evaluate.remote(task)

    def submit_batch(self, i: int, tasks: list[Task]) -> ray.ObjectRef:
        """Start evaluating ``tasks`` in order on actor ``i``; resolves to their rows."""
        return self.actors[i].evaluate_batch.remote(list(tasks))

    def ping(self, i: int) -> ray.ObjectRef:
        """A reference that resolves (to the process id) once actor ``i`` is up."""
        return self.actors[i].ping.remote()

    def wait_ready(self) -> list[int]:
        """Block until every actor has started (imports, numba caches); their process ids."""
        return ray.get([a.ping.remote() for a in self.actors])

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

    def shutdown(self) -> None:
        """Kill the actors (no restart)."""
        for actor in self.actors:
            ray.kill(actor, no_restart=True)
        self.actors = []

    def __enter__(self) -> SteadyStatePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
