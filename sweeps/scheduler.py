"""Driver-side scheduling of points over steady-state actors with ``ray.wait``.

Points are ordered into continuation chains (:func:`~hetspace.sweeps.points.order_chains`),
one per actor. Each actor walks its chain with up to ``depth`` calls in flight
(so it never waits for the driver between points). An idle actor takes the
next unstarted chain, or else steals the back half of the longest remaining
chain. When an actor dies its lost calls are resubmitted (Ray restarts the
process; ``max_task_retries = 0`` means Ray itself replays nothing); a point
whose evaluation was lost ``max_attempts`` times is recorded as failed. An
actor that died more often than its restarts allow leaves the pool and its
chain goes back to the others. A restarting actor is pinged until it answers
before it gets new points, so a point counts one attempt per actor death it
was really part of. ``ActorPool`` is not used: it loses the input
of a failed call.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import ray
from ray.exceptions import RayActorError

from hetspace.core.errors import HetspaceError

from .actors import STATUS_FAILED, Task
from .points import Point, order_chains
from .pool import SteadyStatePool

logger = logging.getLogger(__name__)

RowCallback = Callable[[Point, dict[str, Any]], None]


class AllActorsDiedError(HetspaceError, RuntimeError):
    """Every actor of the pool died more often than Ray may restart it."""


@dataclasses.dataclass
class _Slot:
    index: int
    queue: collections.deque = dataclasses.field(default_factory=collections.deque)
    inflight: int = 0
    generation: int = 0  # incarnation of the actor process, as the driver saw it
    state: str = "ready"  # ready | restarting (pinged until it answers) | dead
    pings: int = 0


def run_points(pool: SteadyStatePool, points: Sequence[Point], numerics: Any,
               on_row: RowCallback, *, depth: int = 2, max_attempts: int = 3,
               max_pings: int = 30) -> None:
    """Evaluate ``points`` on ``pool``; ``on_row(point, row)`` for each, as they finish."""
    state = _Run(pool, numerics, on_row, depth, max_attempts, max_pings)
    state.pending.extend(collections.deque(c) for c in order_chains(points, len(pool)))
    state.loop()


class _Run:
    def __init__(self, pool, numerics, on_row, depth, max_attempts, max_pings):
        self.pool, self.numerics, self.on_row = pool, numerics, on_row
        self.depth, self.max_attempts, self.max_pings = depth, max_attempts, max_pings
        self.slots = [_Slot(i) for i in range(len(pool))]
        self.pending: collections.deque[collections.deque] = collections.deque()
        self.refs: dict[ray.ObjectRef, tuple[_Slot, Point, int, float]] = {}
        self.pings: dict[ray.ObjectRef, _Slot] = {}
        self.attempts: collections.Counter[str] = collections.Counter()

    def loop(self) -> None:
        while True:
            self._fill()
            waiting = [*self.refs, *self.pings]
            if not waiting:
                if any(s.queue for s in self.slots) or self.pending:
                    raise AllActorsDiedError("every actor died; points remain unevaluated")
                return
            ready, _ = ray.wait(waiting, num_returns=1)
            more, _ = ray.wait([r for r in waiting if r not in ready],
                               num_returns=len(waiting) - len(ready), timeout=0)
            for ref in (*ready, *more):
                if ref in self.pings:
                    self._pinged(ref)
                else:
                    self._collect(ref)

    def _fill(self) -> None:
        for slot in self.slots:
            while slot.state == "ready" and slot.inflight < self.depth:
                point = self._next(slot)
                if point is None:
                    break
                task = Task(point.key, point.params, self.numerics, point.seed)
                ref = self.pool.submit(slot.index, task)
                self.refs[ref] = (slot, point, slot.generation, time.perf_counter())
                slot.inflight += 1

    def _next(self, slot: _Slot) -> Point | None:
        if not slot.queue and self.pending:
            slot.queue = self.pending.popleft()
        if not slot.queue:
            self._steal(slot)
        return slot.queue.popleft() if slot.queue else None

    def _steal(self, slot: _Slot) -> None:
        victim = max((s for s in self.slots if s is not slot), key=lambda s: len(s.queue),
                     default=None)
        if victim is None or len(victim.queue) < 2:
            return
        keep = len(victim.queue) // 2 if victim.state == "ready" else 0
        items = list(victim.queue)
        victim.queue = collections.deque(items[:keep])
        slot.queue = collections.deque(items[keep:])
        logger.debug("actor %d takes %d points from actor %d", slot.index, len(slot.queue),
                     victim.index)

    def _collect(self, ref: ray.ObjectRef) -> None:
        slot, point, generation, t0 = self.refs.pop(ref)
        slot.inflight -= 1
        try:
            row = ray.get(ref)
        except RayActorError as e:
            self._lost(slot, point, generation, e)
            return
        self.attempts[point.key] += 1
        row.update(attempts=self.attempts[point.key], t_roundtrip=time.perf_counter() - t0)
        self.on_row(point, row)

    def _lost(self, slot: _Slot, point: Point, generation: int, error: Exception) -> None:
        """A call died with its actor: count the attempt, requeue the point, ping the actor."""
        self.attempts[point.key] += 1
        if self.attempts[point.key] >= self.max_attempts:
            self.on_row(point, _lost_row(point, self.attempts[point.key], error))
        else:
            slot.queue.appendleft(point)
        if generation == slot.generation and slot.state == "ready":
            slot.generation += 1
            logger.warning("actor %d died (%s); resubmitting its points", slot.index,
                           type(error).__name__)
            if slot.generation > self.pool.max_restarts:
                self._retire(slot)
            else:
                slot.state, slot.pings = "restarting", 0
                self.pings[self.pool.ping(slot.index)] = slot

    def _pinged(self, ref: ray.ObjectRef) -> None:
        slot = self.pings.pop(ref)
        try:
            ray.get(ref)
        except RayActorError:
            slot.pings += 1
            if slot.pings >= self.max_pings:
                self._retire(slot)
            else:
                self.pings[self.pool.ping(slot.index)] = slot
            return
        slot.state = "ready"
        logger.info("actor %d is back", slot.index)

    def _retire(self, slot: _Slot) -> None:
        logger.warning("actor %d is gone for good; its points go to the others", slot.index)
        slot.state = "dead"
        if slot.queue:
            self.pending.append(slot.queue)
            slot.queue = collections.deque()


def _lost_row(point: Point, attempts: int, error: Exception) -> dict[str, Any]:
    text = " ".join(str(error).split())[:500]
    return {"key": point.key, "status": STATUS_FAILED, "moments": {}, "n_iter": None,
            "error": f"actor died during the evaluation {attempts} times: "
                     f"{type(error).__name__}: {text}",
            "warm_start": False, "cold_retry": False, "t_solve": None, "t_eval": None,
            "actor": None, "pid": None, "attempts": attempts, "t_roundtrip": None}
