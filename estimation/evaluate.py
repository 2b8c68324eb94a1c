"""Evaluating theta on steady-state actors: the estimation actor and the driver's evaluator.

``EstimationActor`` is the sweeps' :class:`~hetspace.sweeps.actors.SteadyStateActor`
with two changes: only ``SolverConvergenceError`` becomes a failed row (any
other exception propagates to the driver, where it stops the study: a bug is
not a failed trial), and when moments are simulated the row's moments are the
simulated statistics of the steady state just solved.

``Evaluator`` (driver side) keeps, for each actor, the natural parameter values
of the steady state it holds, sends each evaluation to the idle actor holding
the nearest one (distance in the unit search box) and runs batches (finite
differences) through the sweeps scheduler, which resubmits calls lost with a
dead actor.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import ray

from hetspace.core.errors import SolverConvergenceError
from hetspace.sweeps.actors import STATUS_OK, SteadyStateActor, Task
from hetspace.sweeps.points import Point, point_key
from hetspace.sweeps.pool import SteadyStatePool
from hetspace.sweeps.scheduler import run_points

from .objective import Simulation, model_moments, replicate_statistics
from .transforms import unit

logger = logging.getLogger(__name__)


class EstimationActor(SteadyStateActor):
    """A steady-state actor whose rows carry m(theta) (analytic or simulated)."""

    recoverable = (SolverConvergenceError,)

    def __init__(self, model: str, num_cpus: int = 1, crash_after: int | None = None,
                 crash_marker: str | None = None, sleep: float = 0.0, *,
                 simulation: Simulation | None = None):
        super().__init__(model, num_cpus, crash_after, crash_marker, sleep)
        self.simulation = simulation

    def evaluate(self, task: Task) -> dict[str, Any]:
        row = super().evaluate(task)
        if row["status"] == STATUS_OK:
            t0 = time.perf_counter()
            row["moments"] = model_moments(self.held, self.simulation)
            row["t_eval"] += time.perf_counter() - t0  # simulated statistics are evaluation time
        return row

    def replicates(self, seeds: Sequence[int]) -> np.ndarray:
        """Statistics of one panel per seed at the held steady state (for Omega)."""
        if self.held is None or self.simulation is None:
            raise RuntimeError("replicates need a held steady state and simulated moments")
        return replicate_statistics(self.held, self.simulation, seeds)


@dataclasses.dataclass
class Counters:
    """Model evaluations requested by the driver, and their total solve time (actor side)."""

    solves: int = 0
    failed: int = 0
    solve_seconds: float = 0.0

    def add(self, row: dict[str, Any]) -> None:
        self.solves += 1
        self.failed += row.get("status") != STATUS_OK
        self.solve_seconds += float(row.get("t_eval") or 0.0)


class Evaluator:
    """The driver's handle on the actors of one estimation."""

    def __init__(self, spec: Any, n_actors: int):
        self.spec = spec
        self.pool = SteadyStatePool(spec.model.name, n_actors, cpus_per_actor=spec.cpus_per_actor,
                                    sleep=spec.sleep, actor_class=EstimationActor,
                                    actor_kwargs={"simulation": spec.simulation})
        self.held: list[np.ndarray | None] = [None] * n_actors
        self.busy: set[int] = set()
        self.counters = Counters()
        #: what the evaluations are for (the driver sets it): trial, polish, estimate,
        #: jacobian, omega; every evaluation becomes a row of ``records``
        self.phase = "trial"
        self.records: list[dict[str, Any]] = []
        self._sent: dict[int, float] = {}

    def __len__(self) -> int:
        return len(self.pool)

    def idle(self) -> list[int]:
        return [i for i in range(len(self.pool)) if i not in self.busy]

    def nearest_idle(self, x: Sequence[float]) -> int:
        """The idle actor whose held point is nearest to x (actors holding nothing last)."""
        u = unit(self.spec.parameters, x)

        def distance(i: int) -> float:
            held = self.held[i]
            return np.inf if held is None else float(np.sum((unit(self.spec.parameters, held)
                                                             - u) ** 2))

        return min(self.idle(), key=distance)

    def submit(self, actor: int, x: Sequence[float], params: Any, key: str) -> ray.ObjectRef:
        self.busy.add(actor)
        self._sent[actor] = time.time()
        task = Task(key, params, self.spec.numerics, self.spec.seed)
        return self.pool.submit(actor, task)

    def collected(self, actor: int, x: Sequence[float], row: dict[str, Any]) -> None:
        """Book-keeping after a row came back from ``actor``."""
        self.busy.discard(actor)
        self._record(x, row, actor, self._sent.pop(actor, np.nan))
        if row["status"] == STATUS_OK:
            self.held[actor] = np.asarray(x, dtype=float)

    def _record(self, x: Sequence[float], row: dict[str, Any], actor: int | None,
                sent: float) -> None:
        """Count the evaluation and keep its row for evaluations.csv."""
        self.counters.add(row)
        ok = row.get("status") == STATUS_OK
        self.records.append({
            "phase": self.phase, **dict(zip(self.spec.names, map(float, x), strict=True)),
            "status": row.get("status"), "t_eval": row.get("t_eval"),
            "objective": self.spec.objective.value(row["moments"]) if ok else None,
            "actor": row.get("actor"), "batch": actor is None,
            "sent": sent, "started": row.get("started_unix"), "received": time.time(),
            "error": row.get("error")})

    def evaluate(self, x: Sequence[float]) -> dict[str, Any]:
        """One evaluation on the nearest idle actor (blocking)."""
        actor = self.nearest_idle(x)
        ref = self.submit(actor, x, self.spec.params_at(x), _key(self.spec, x))
        try:
            row = ray.get(ref)
        finally:
            self.busy.discard(actor)
        self.collected(actor, x, row)
        return row

    def evaluate_many(self, xs: Sequence[Sequence[float]]) -> list[dict[str, Any]]:
        """Rows for many points, in order, through the sweeps scheduler (all actors)."""
        points = [Point(index=i, values={}, shock=None, params=self.spec.params_at(x),
                        key=_key(self.spec, x), seed=self.spec.seed,
                        coords=tuple(unit(self.spec.parameters, x))) for i, x in enumerate(xs)]
        rows: dict[int, dict[str, Any]] = {}

        sent = time.time()

        def on_row(point: Point, row: dict[str, Any]) -> None:
            rows[point.index] = row
            self._record(xs[point.index], row, None, sent)

        run_points(self.pool, points, self.spec.numerics, on_row, depth=2)
        self.held = [None] * len(self.pool)  # the scheduler chose the actors
        return [rows[i] for i in range(len(xs))]

    def replicates(self, x: Sequence[float], seeds: Sequence[int]) -> np.ndarray:
        """Simulated statistics (one row per seed) at x, from an actor that solves x first."""
        row = self.evaluate(x)
        if row["status"] != STATUS_OK:
            raise SolverConvergenceError(f"cannot solve at the estimate: {row['error']}")
        actor = int(np.argmin([np.inf if h is None else np.sum((h - np.asarray(x)) ** 2)
                               for h in self.held]))
        return ray.get(self.pool.actors[actor].replicates.remote(list(seeds)))

    def shutdown(self) -> None:
        self.pool.shutdown()


def _key(spec: Any, x: Sequence[float]) -> str:
    return point_key(spec.model.name, spec.params_at(x), spec.numerics, spec.seed)[:16]
