"""Evaluating theta on steady-state actors: the estimation actor and the driver's evaluator.

``EstimationActor`` is the sweeps' :class:`~hetspace.sweeps.actors.SteadyStateActor`
with two changes: only ``SolverConvergenceError`` becomes a failed row (any
other exception propagates to the driver, where it stops the study: a bug is
not a failed trial), and when moments are simulated the row's moments are the
simulated statistics of the steady state just solved.

``Evaluator`` (driver side) keeps, for each actor, the natural parameter values
of the steady state it holds and the evaluations it has in flight (one record
per call: an actor may have several queued), sends each evaluation to the
actor with the fewest calls in flight and, among those, the one that will hold
the nearest point once its queue is done (distance in the unit search box), and
runs batches (finite differences) through the sweeps scheduler, which resubmits
calls lost with a dead actor.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import ray
from ray.exceptions import RayActorError

from hetspace.core.errors import HetspaceError, SolverConvergenceError
from hetspace.sweeps.actors import STATUS_OK, SteadyStateActor, Task, serial
from hetspace.sweeps.points import Point, point_key
from hetspace.sweeps.pool import SteadyStatePool
from hetspace.sweeps.scheduler import run_points

from .objective import Simulation, model_moments, replicate_statistics
from .transforms import unit

logger = logging.getLogger(__name__)

#: Pings of a restarting actor before it is given up (each fails within about a second).
MAX_PINGS = 30


class EstimationActor(SteadyStateActor):
    """A steady-state actor whose rows carry m(theta) (analytic or simulated)."""

    recoverable = (SolverConvergenceError,)

    def __init__(self, model: str, num_cpus: int = 1, crash_after: int | None = None,
                 crash_marker: str | None = None, sleep: float = 0.0, *,
                 simulation: Simulation | None = None):
        super().__init__(model, num_cpus, crash_after, crash_marker, sleep)
        self.simulation = simulation

    @serial
    def evaluate(self, task: Task) -> dict[str, Any]:
        row = super().evaluate(task)
        if row["status"] == STATUS_OK:
            t0 = time.perf_counter()
            row["moments"] = model_moments(self.held, self.simulation, self.model)
            row["t_eval"] += time.perf_counter() - t0  # simulated statistics are evaluation time
        return row

    @serial
    def replicates(self, seeds: Sequence[int]) -> np.ndarray:
        """Statistics of one panel per seed at the held steady state (for Omega)."""
        if self.held is None or self.simulation is None:
            raise RuntimeError("replicates need a held steady state and simulated moments")
        return replicate_statistics(self.held, self.simulation, seeds, self.model)


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


@dataclasses.dataclass(frozen=True, slots=True)
class Call:
    """One evaluation in flight: the actor it went to, its point x, when the driver sent it."""

    actor: int
    x: np.ndarray
    sent: float


class Evaluator:
    """The driver's handle on the actors of one estimation.

    Book-keeping is per call (``calls``, by Ray reference) so that an actor may have
    several evaluations queued (it solves them one at a time in the order sent:
    :func:`hetspace.sweeps.actors.serial`; their rows may come back in another
    order, see ``collected``): each row of
    evaluations.csv keeps its own sent time. ``held[i]`` is the point of the steady
    state actor i holds (its last success, None if unknown).
    """

    def __init__(self, spec: Any, n_actors: int):
        self.spec = spec
        self.pool = SteadyStatePool(spec.model.name, n_actors, cpus_per_actor=spec.cpus_per_actor,
                                    sleep=spec.sleep, actor_class=EstimationActor,
                                    actor_kwargs={"simulation": spec.simulation})
        self.held: list[np.ndarray | None] = [None] * n_actors
        self._held_started = [0.0] * n_actors  # when the solve of held[i] started
        self.calls: dict[ray.ObjectRef, Call] = {}
        self._queues: list[list[ray.ObjectRef]] = [[] for _ in range(n_actors)]
        self._pings: dict[ray.ObjectRef, tuple[int, int]] = {}  # (actor, attempt) restarting
        self._gone: set[int] = set()  # actors that never came back
        self.counters = Counters()
        #: what the evaluations are for (the driver sets it): trial, polish, estimate,
        #: jacobian, omega; every evaluation becomes a row of ``records``
        self.phase = "trial"
        self.records: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.pool)

    def load(self, actor: int) -> int:
        """Evaluations sent to ``actor`` and not collected yet."""
        return len(self._queues[actor])

    def free(self, depth: int = 1) -> list[int]:
        """The actors up (not restarting) with fewer than ``depth`` evaluations in flight."""
        if self._pings:
            self.pinged(ray.wait(list(self._pings), num_returns=len(self._pings), timeout=0)[0])
        down = self._gone | {a for a, _ in self._pings.values()}
        return [i for i in range(len(self.pool)) if i not in down and self.load(i) < depth]

    def restarting(self) -> list[ray.ObjectRef]:
        """Pings of the actors that died and are restarting (wait on them with the calls)."""
        return list(self._pings)

    def pinged(self, refs: Sequence[ray.ObjectRef]) -> None:
        """An answered ping puts its actor back in use; a failed one is sent again, up to
        ``MAX_PINGS`` times (then the actor is given up; none left: ``HetspaceError``)."""
        for ref in refs:
            actor, attempt = self._pings.pop(ref)
            try:
                ray.get(ref)
            except RayActorError:
                if attempt < MAX_PINGS:
                    self._pings[self.pool.ping(actor)] = (actor, attempt + 1)
                    continue
                self._gone.add(actor)
                logger.warning("actor %d did not come back; going on without it", actor)
                if len(self._gone) == len(self.pool):
                    raise HetspaceError("every actor of the estimation died") from None
                continue
            logger.info("actor %d is back", actor)

    def nearest(self, x: Sequence[float], depth: int = 1) -> int:
        """The actor to evaluate x next: fewest calls in flight (below ``depth``), then nearest.

        An actor's distance is from x to the point it will hold once its queue is done:
        its last call in flight (as if that succeeds), else the point it holds; actors
        holding nothing come last. Distances are in the unit search box.
        """
        u = unit(self.spec.parameters, x)
        while not self.free(depth) and self._pings:  # every free actor is restarting
            self.pinged(ray.wait(list(self._pings), num_returns=1)[0])

        def order(i: int) -> tuple[int, float]:
            queue = self._queues[i]
            tail = self.calls[queue[-1]].x if queue else self.held[i]
            far = np.inf if tail is None else float(np.sum((unit(self.spec.parameters, tail)
                                                            - u) ** 2))
            return self.load(i), far

        return min(self.free(depth), key=order)

    def submit(self, actor: int, x: Sequence[float], params: Any, key: str) -> ray.ObjectRef:
        """Send one evaluation to ``actor`` (queued behind its calls in flight)."""
        sent = time.time()
        ref = self.pool.submit(actor, Task(key, params, self.spec.numerics, self.spec.seed))
        self.calls[ref] = Call(actor, np.asarray(x, dtype=float), sent)
        self._queues[actor].append(ref)
        return ref

    def collected(self, ref: ray.ObjectRef, row: dict[str, Any]) -> Call:
        """Book-keeping after the row of call ``ref`` came back; the call."""
        call = self.forget(ref)
        self._record(call.x, row, False, call.sent)
        # rows may come back out of order (an actor's next call starts while the result
        # of the last one is on its way): the actor holds its latest started success
        started = row.get("started_unix") or 0.0
        if row["status"] == STATUS_OK and started >= self._held_started[call.actor]:
            self.held[call.actor] = call.x
            self._held_started[call.actor] = started
        return call

    def lost(self, ref: ray.ObjectRef) -> Call:
        """Call ``ref`` died with its actor. Ray restarts the actor (holding nothing); it
        gets no new call until it answers a ping (calls sent meanwhile would queue for
        the new process, warm-started from nothing)."""
        call = self.forget(ref)
        self.held[call.actor] = None
        self._held_started[call.actor] = 0.0
        if call.actor not in self._gone and all(a != call.actor for a, _ in self._pings.values()):
            self._pings[self.pool.ping(call.actor)] = (call.actor, 1)
        return call

    def forget(self, ref: ray.ObjectRef) -> Call:
        """Drop call ``ref`` from the book-keeping (its row will not be recorded)."""
        call = self.calls.pop(ref)
        self._queues[call.actor].remove(ref)
        return call

    def _record(self, x: Sequence[float], row: dict[str, Any], batch: bool,
                sent: float) -> None:
        """Count the evaluation and keep its row for evaluations.csv."""
        self.counters.add(row)
        ok = row.get("status") == STATUS_OK
        self.records.append({
            "phase": self.phase, **dict(zip(self.spec.names, map(float, x), strict=True)),
            "status": row.get("status"), "t_eval": row.get("t_eval"),
            "objective": self.spec.objective.value(row["moments"]) if ok else None,
            "actor": row.get("actor"), "batch": batch,
            "sent": sent, "started": row.get("started_unix"), "received": time.time(),
            "error": row.get("error")})

    def evaluate(self, x: Sequence[float]) -> dict[str, Any]:
        """One evaluation on the nearest idle actor (blocking)."""
        ref = self.submit(self.nearest(x), x, self.spec.params_at(x), _key(self.spec, x))
        try:
            row = ray.get(ref)
        except BaseException:
            self.forget(ref)
            raise
        self.collected(ref, row)
        return row

    def round_trip(self) -> float:
        """Seconds of a call to an idle actor that does nothing (Ray's round trip; 0 if
        no actor is idle)."""
        idle = self.free(1)
        if not idle:
            return 0.0
        t0 = time.perf_counter()
        ray.get(self.pool.ping(idle[0]))
        return time.perf_counter() - t0

    def evaluate_many(self, xs: Sequence[Sequence[float]], own: int = 0,
                      ordered: bool = False) -> list[dict[str, Any]]:
        """Rows for many points, in order, through the sweeps scheduler (all actors).

        The points are a finite-difference Jacobian's (``batch`` in evaluations.csv),
        except the first ``own``, evaluations in their own right sent along with them.
        The scheduler cuts a nearest-neighbour tour of the points into one chain per
        actor; ``ordered`` makes the tour the given order (the first point first).
        """
        params = [self.spec.params_at(x) for x in xs]
        points = [Point(index=i, values={}, shock=None, params=p,
                        key=point_key(self.spec.model.name, p, self.spec.numerics,
                                      self.spec.seed)[:16],
                        seed=self.spec.seed,
                        coords=(float(i),) if ordered else tuple(unit(self.spec.parameters, x)))
                  for i, (x, p) in enumerate(zip(xs, params, strict=True))]
        rows: dict[int, dict[str, Any]] = {}

        sent = time.time()

        def on_row(point: Point, row: dict[str, Any]) -> None:
            rows[point.index] = row
            self._record(xs[point.index], row, point.index >= own, sent)

        run_points(self.pool, points, self.spec.numerics, on_row, depth=2)
        self.held = [None] * len(self.pool)  # the scheduler chose the actors
        self._held_started = [0.0] * len(self.pool)
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
