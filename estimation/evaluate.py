"""Evaluating theta on steady-state actors: the estimation actor and the driver's evaluator.

``EstimationActor`` is the sweeps' :class:`~hetspace.sweeps.actors.SteadyStateActor`
with two changes: only ``SolverConvergenceError`` becomes a failed evaluation (any
other exception propagates to the driver, where it stops the study: a bug is
not a failed trial), and when moments are simulated the evaluation's moments are the
simulated statistics of the steady state just solved.

``Evaluator`` (driver side) runs on the sweeps' pool
(:class:`~hetspace.sweeps.pool.SteadyStatePool`: the same actors' health, calls in
flight, restarts and events as a sweep). Its own part is placement: it keeps, for
each actor, the natural parameter values of the steady state it holds, sends each
evaluation to the actor with the fewest calls in flight and, among those, the one
that will hold the nearest point once its queue is done (distance in the unit
search box), and runs batches (finite differences) through the sweeps' scheduler
(:func:`~hetspace.sweeps.scheduler.run_jobs`), which resubmits calls lost with a
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
from hetspace.sweeps.actors import Evaluation, SteadyStateActor, Task, serial
from hetspace.sweeps.points import point_key
from hetspace.sweeps.pool import AllActorsGoneError, Call, Event, Kind, SteadyStatePool
from hetspace.sweeps.scheduler import Job, run_jobs

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

    @serial
    def evaluate(self, task: Task) -> Evaluation:
        evaluation = super().evaluate(task)
        if not evaluation.ok:
            return evaluation
        t0 = time.perf_counter()
        moments = model_moments(self.held, self.simulation, self.model)
        # simulated statistics are evaluation time
        return dataclasses.replace(evaluation, moments=moments,
                                   t_eval=evaluation.t_eval + time.perf_counter() - t0)

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

    def add(self, evaluation: Evaluation) -> None:
        self.solves += 1
        self.failed += not evaluation.ok
        self.solve_seconds += float(evaluation.t_eval or 0.0)


@dataclasses.dataclass(frozen=True, slots=True)
class Sent:
    """What the evaluator attaches to a call (its ``tag``): the point x, when it was sent."""

    x: np.ndarray
    sent: float


class Evaluator:
    """The driver's handle on the actors of one estimation.

    Each evaluation is one call on the pool (``calls``: those in flight; an actor may
    have several queued and solves them one at a time in the order sent:
    :func:`hetspace.sweeps.actors.serial`; their results may come back in another
    order, see ``collected``): each row of evaluations.csv keeps its own sent time.
    ``held[i]`` is the point of the steady state actor i holds (its last success,
    None if unknown).
    """

    def __init__(self, spec: Any, n_actors: int):
        self.spec = spec
        self.pool = SteadyStatePool(spec.model.name, n_actors, cpus_per_actor=spec.cpus_per_actor,
                                    sleep=spec.sleep, actor_class=EstimationActor,
                                    actor_kwargs={"simulation": spec.simulation})
        self.held: list[np.ndarray | None] = [None] * n_actors
        self._held_started = [0.0] * n_actors  # when the solve of held[i] started
        self.counters = Counters()
        #: what the evaluations are for (the driver sets it): trial, polish, estimate,
        #: jacobian, omega; every evaluation becomes a row of ``records``
        self.phase = "trial"
        self.records: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.pool)

    @property
    def calls(self) -> list[Call]:
        """The evaluations in flight."""
        return self.pool.in_flight()

    def load(self, actor: int) -> int:
        """Evaluations sent to ``actor`` and not collected yet."""
        return self.pool.load(actor)

    def free(self, depth: int = 1) -> list[int]:
        """The actors up (not restarting) with fewer than ``depth`` evaluations in flight."""
        return [i for i in self.pool.up() if self.pool.load(i) < depth]

    def nearest(self, x: Sequence[float], depth: int = 1) -> int:
        """The actor to evaluate x next: fewest calls in flight (below ``depth``), then nearest.

        An actor's distance is from x to the point it will hold once its queue is done:
        its last call in flight (as if that succeeds), else the point it holds; actors
        holding nothing come last. Distances are in the unit search box. With no call
        in flight and every actor restarting, it waits until one is back.
        """
        u = unit(self.spec.parameters, x)
        if not self.free(depth) and not self.pool.in_flight():
            self.pool.wait_up()

        def order(i: int) -> tuple[int, float]:
            queue = self.pool.in_flight(i)
            tail = queue[-1].tag.x if queue else self.held[i]
            far = np.inf if tail is None else float(np.sum((unit(self.spec.parameters, tail)
                                                            - u) ** 2))
            return self.load(i), far

        return min(self.free(depth), key=order)

    def submit(self, actor: int, x: Sequence[float], params: Any, key: str) -> Call:
        """Send one evaluation to ``actor`` (queued behind its calls in flight)."""
        task = Task(key, params, self.spec.numerics, self.spec.seed)
        return self.pool.submit(actor, [task], Sent(np.asarray(x, dtype=float), time.time()))

    def collected(self, call: Call, evaluation: Evaluation) -> None:
        """Book-keeping after the evaluation of ``call`` came back."""
        self._record(call.tag.x, evaluation, False, call.tag.sent)
        # results may come back out of order (an actor's next call starts while the result
        # of the last one is on its way): the actor holds its latest started success
        started = evaluation.started_unix or 0.0
        if evaluation.ok and started >= self._held_started[call.actor]:
            self.held[call.actor] = call.tag.x
            self._held_started[call.actor] = started

    def lost(self, call: Call) -> None:
        """``call`` died with its actor: the pool restarts the actor (holding nothing),
        which gets no new call until it answers a ping."""
        self.held[call.actor] = None
        self._held_started[call.actor] = 0.0

    def events(self) -> list[Event]:
        """The pool's next events (blocking); :class:`AllActorsGoneError` once every
        actor is gone."""
        events = self.pool.wait()
        if any(e.kind is Kind.GONE for e in events) and not self.pool.live:
            raise AllActorsGoneError("every actor of the estimation died")
        return events

    def _record(self, x: Sequence[float], evaluation: Evaluation, batch: bool,
                sent: float) -> None:
        """Count the evaluation and keep its row for evaluations.csv."""
        self.counters.add(evaluation)
        self.records.append({
            "phase": self.phase, **dict(zip(self.spec.names, map(float, x), strict=True)),
            "status": evaluation.status.value, "t_eval": evaluation.t_eval,
            "objective": (self.spec.objective.value(evaluation.moments) if evaluation.ok
                          else None),
            "actor": evaluation.actor, "batch": batch,
            "sent": sent, "started": evaluation.started_unix, "received": time.time(),
            "error": evaluation.error})

    def evaluate(self, x: Sequence[float]) -> Evaluation:
        """One evaluation on the nearest idle actor (blocking; nothing else in flight)."""
        params = self.spec.params_at(x)
        call = self.submit(self.nearest(x), x, params, _key(self.spec, params))
        try:
            while True:
                for event in self.events():
                    if event.call is not call:
                        continue
                    if event.kind is Kind.DONE:
                        evaluation = event.evaluations[0]
                        self.collected(call, evaluation)
                        return evaluation
                    if event.kind is Kind.LOST:
                        self.lost(call)
                    raise event.error
        except BaseException:
            self.pool.forget(call)
            raise

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
                      ordered: bool = False) -> list[Evaluation]:
        """Evaluations of many points, in order, through the sweeps' scheduler (all actors).

        The points are a finite-difference Jacobian's (``batch`` in evaluations.csv),
        except the first ``own``, evaluations in their own right sent along with them.
        The scheduler cuts a nearest-neighbour tour of the points into one chain per
        actor; ``ordered`` makes the tour the given order (the first point first).
        """
        spec = self.spec
        jobs = [Job(Task(_key(spec, p), p, spec.numerics, spec.seed),
                    coords=(float(i),) if ordered else tuple(unit(spec.parameters, x)), item=i)
                for i, (x, p) in enumerate(zip(xs, map(spec.params_at, xs), strict=True))]
        out: dict[int, Evaluation] = {}
        sent = time.time()

        def on_row(job: Job, evaluation: Evaluation) -> None:
            out[job.item] = evaluation
            self._record(xs[job.item], evaluation, job.item >= own, sent)

        run_jobs(self.pool, jobs, on_row, depth=2)
        self.held = [None] * len(self.pool)  # the scheduler chose the actors
        self._held_started = [0.0] * len(self.pool)
        return [out[i] for i in range(len(xs))]

    def replicates(self, x: Sequence[float], seeds: Sequence[int]) -> np.ndarray:
        """Simulated statistics (one row per seed) at x, from an actor that solves x first."""
        evaluation = self.evaluate(x)
        if not evaluation.ok:
            raise SolverConvergenceError(f"cannot solve at the estimate: {evaluation.error}")
        actor = int(np.argmin([np.inf if h is None else np.sum((h - np.asarray(x)) ** 2)
                               for h in self.held]))
        return ray.get(self.pool.actors[actor].replicates.remote(list(seeds)))

    def shutdown(self) -> None:
        self.pool.shutdown()


def _key(spec: Any, params: Any) -> str:
    return point_key(spec.model.name, params, spec.numerics, spec.seed)[:16]
