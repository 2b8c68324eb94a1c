"""Driver-side scheduling of points over steady-state actors with ``ray.wait``.

Points are ordered into continuation chains (:func:`~hetspace.sweeps.points.order_chains`),
one per actor. Each actor walks its chain in *batches*: one call evaluates
several consecutive points (:meth:`~hetspace.sweeps.actors.SteadyStateActor.evaluate_batch`,
warm-starting along the chain), so the fixed cost of a call (Ray's task
machinery, the driver's bookkeeping) is paid once per batch rather than per
point. Up to ``depth`` calls per actor are in flight, so an actor never waits
for the driver between batches.

Batch size: the first call of a run carries one point (the time of a solve is
not known yet); afterwards a batch holds about ``batch_seconds`` of the
actor's work (from the median ``t_eval`` of its last rows), at most
``max_batch`` points, and at most the actor's share of the remaining work:
remaining points / (live actors x depth) solves of the typical (median)
length. Batches thus shrink towards the end of a sweep, more so on a slower
actor (a harder part of the grid, a busier core).

An idle actor takes the next unstarted chain, or else steals the back half of
the longest remaining chain (rounded up, so also a last single point; all of
the points queued for an actor that is restarting or gone). When no point is
left to take and an actor has nothing in flight, the driver withdraws the
largest call that waits on another actor behind the one it is solving, if the
idle actor would finish it sooner (at its own recent solve times, against the
other's with half its running call still to go)
(:meth:`~hetspace.sweeps.pool.SteadyStatePool.withdraw`; it succeeds only if
that call has not started) and submits its points to the idle actor: so the
actors finish together, and calls stay pipelined to the end of a sweep. When an actor
dies its lost calls are resubmitted (Ray restarts the process;
``max_task_retries = 0`` means Ray itself replays nothing): every point of a
lost batch counts one attempt and goes back to the front of its chain; a
point that was lost before is sent again alone, with nothing else in flight
on that actor, so a point that kills its actor cannot take its neighbours
down with it again. A point whose evaluation was lost
``max_attempts`` times is recorded as failed. An actor that died more often
than its restarts allow leaves the pool and its chain goes back to the
others. A restarting actor is pinged until it answers before it gets new
points. The driver delivers each point's row exactly once (``on_row``).
``ActorPool`` is not used: it loses the input of a failed call.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from .actors import Evaluation, Status, Task
from .points import Point, order_chains
from .pool import AllActorsGoneError, Call, Event, Health, Kind, SteadyStatePool

logger = logging.getLogger(__name__)

#: Work per call once solve times are known (seconds), and the most points per call.
BATCH_SECONDS = 0.5
MAX_BATCH = 64
#: Rows whose median ``t_eval`` sizes the batches.
RECENT_ROWS = 16

@dataclasses.dataclass(frozen=True, slots=True)
class Job:
    """One evaluation to run: its ``task``, its position for the nearest-neighbour tour
    (``coords``) and the driver's own item it stands for (a sweep's point...)."""

    task: Task
    coords: tuple[float, ...]
    item: Any = None

    @property
    def key(self) -> str:
        return self.task.key


@dataclasses.dataclass
class RunStats:
    """What a fan-out did: calls submitted, rows delivered, calls lost with an actor,
    calls withdrawn."""

    calls: int = 0
    rows: int = 0
    lost_calls: int = 0
    withdrawn: int = 0  # calls taken back before they started, for an idle actor
    withdrawals: list[int] = dataclasses.field(default_factory=list)  # asked for, by actor


@dataclasses.dataclass
class _Slot:
    index: int
    queue: collections.deque = dataclasses.field(default_factory=collections.deque)
    recent: collections.deque = dataclasses.field(  # t_eval of its last rows
        default_factory=lambda: collections.deque(maxlen=RECENT_ROWS))


@dataclasses.dataclass(eq=False)
class _Claim:
    """The scheduler's side of a call: the jobs, and a withdrawal asked for it."""

    jobs: list[Job]
    thief: _Slot | None = None  # the idle actor it is being withdrawn for
    tried: bool = False  # a withdrawal was asked for (once per call)


def run_points(pool: SteadyStatePool, points: Sequence[Point], numerics: Any,
               on_row: Callable[[Point, Evaluation], None], *,
               chains: Sequence[Sequence[Point]] | None = None, **rule: Any) -> RunStats:
    """Evaluate a sweep's ``points`` on ``pool``; ``on_row(point, evaluation)`` for each.

    ``chains``: ``points`` already cut into ``order_chains(points, len(pool))`` (e.g.
    while the actors started; the tour of a 64-point grid takes a few milliseconds,
    with every actor waiting). ``rule``: :func:`run_jobs`' keywords.
    """
    jobs = [Job(Task(p.key, p.params, numerics, p.seed, p.dynamics), p.coords, p)
            for p in points]
    if chains is not None:
        if sorted(p.key for c in chains for p in c) != sorted(p.key for p in points):
            raise ValueError("chains must hold exactly the points to evaluate")
        by_key = {job.key: job for job in jobs}
        chains = [[by_key[p.key] for p in c] for c in chains]
    return run_jobs(pool, jobs, lambda job, ev: on_row(job.item, ev), chains=chains, **rule)


def run_jobs(pool: SteadyStatePool, jobs: Sequence[Job],
             on_row: Callable[[Job, Evaluation], None], *, depth: int = 2,
             max_attempts: int = 3, batch_seconds: float = BATCH_SECONDS,
             max_batch: int = MAX_BATCH, on_tick: Callable[[], None] | None = None,
             tick_seconds: float = 1.0,
             chains: Sequence[Sequence[Job]] | None = None) -> RunStats:
    """Evaluate ``jobs`` on ``pool``; ``on_row(job, evaluation)`` for each, as they finish.

    ``on_tick()`` (optional) is called after each round of finished calls and at
    least every ``tick_seconds`` while the driver waits (e.g. to flush a store).
    ``max_batch=1`` sends one job per call. ``chains``: the jobs cut into one chain
    per actor (default: ``order_chains(jobs, len(pool))``).
    """
    state = _Run(pool, on_row, depth, max_attempts, max(1, int(max_batch)), batch_seconds)
    if chains is None:
        chains = order_chains(jobs, len(pool))
    state.pending.extend(collections.deque(c) for c in chains)
    state.unsubmitted = sum(len(c) for c in chains)
    state.loop(on_tick, tick_seconds)
    return state.stats


class _Run:
    def __init__(self, pool, on_row, depth, max_attempts, max_batch, batch_seconds):
        self.pool, self.on_row = pool, on_row
        self.depth, self.max_attempts = depth, max_attempts
        self.max_batch, self.batch_seconds = max_batch, batch_seconds
        self.slots = [_Slot(i) for i in range(len(pool))]
        self.pending: collections.deque[collections.deque] = collections.deque()
        self.unsubmitted = 0  # jobs in pending chains and slot queues
        self.claims: dict[Call, _Claim] = {}
        self.attempts: collections.Counter[str] = collections.Counter()
        self.recent: collections.deque[float] = collections.deque(maxlen=RECENT_ROWS)
        self.thieves: set[int] = set()  # idle actors waiting for a withdrawn call
        self.stats = RunStats()

    def loop(self, on_tick: Callable[[], None] | None, tick_seconds: float) -> None:
        timeout = tick_seconds if on_tick is not None else None
        while True:
            self._fill()
            if not self.pool.busy():
                if self.unsubmitted:
                    raise AllActorsGoneError("every actor died; points remain unevaluated")
                return
            for event in self.pool.wait(timeout):
                self._handle(event)
            if on_tick is not None:
                on_tick()

    def _handle(self, event: Event) -> None:
        kind, call = event.kind, event.call
        if kind is Kind.DONE:
            self._collect(call, event)
        elif kind is Kind.WITHDRAWN:
            self._withdrawn(call)
        elif kind is Kind.LOST:
            self._lost(call, event.error)
        elif kind is Kind.RAISED:
            raise event.error
        elif kind is Kind.KEPT:  # the call had started: its thief may ask another actor
            claim = self.claims.get(call)
            if claim is not None and claim.thief is not None:
                self.thieves.discard(claim.thief.index)
                claim.thief = None
        elif kind is Kind.GONE:
            self._retire(self.slots[event.actor])

    def _fill(self) -> None:
        for slot in self.slots:
            self._fill_slot(slot)

    def _fill_slot(self, slot: _Slot) -> None:
        while (self.pool.health[slot.index] is Health.READY
               and self.pool.load(slot.index) < self.depth):
            batch = self._take(slot)
            if not batch:
                if not self.pool.load(slot.index):
                    self._reclaim(slot)
                return
            call = self.pool.submit(slot.index, [job.task for job in batch])
            self.claims[call] = _Claim(batch)
            self.stats.calls += 1

    def _take(self, slot: _Slot) -> list[Job]:
        """The next batch of ``slot``'s chain (refilled from pending chains or by stealing)."""
        if not slot.queue and self.pending:
            slot.queue = self.pending.popleft()
        if not slot.queue:
            self._steal(slot)
        if not slot.queue:
            return []
        if self.attempts[slot.queue[0].key]:  # lost before: alone, nothing else in flight
            if self.pool.load(slot.index):
                return []
            n = 1
        else:
            n = min(self._batch_size(slot), len(slot.queue))
            n = next((i for i in range(1, n) if self.attempts[slot.queue[i].key]), n)
        self.unsubmitted -= n
        return [slot.queue.popleft() for _ in range(n)]

    def _batch_size(self, slot: _Slot) -> int:
        if not self.recent:
            return 1
        typical = statistics.median(self.recent)
        own = self._solve_time(slot)
        by_time = int(self.batch_seconds / own)
        share = self.unsubmitted / (max(1, self.pool.live) * self.depth)  # in typical solves
        guided = math.ceil(share * (typical / own))
        return max(1, min(self.max_batch, by_time, guided))

    def _solve_time(self, slot: _Slot) -> float:
        """The typical seconds of a point on ``slot`` (its recent rows, else everyone's)."""
        rows = slot.recent or self.recent
        return max(statistics.median(rows), 1e-9) if rows else 1e-9

    def _reclaim(self, thief: _Slot) -> None:
        """Withdraw, for the idle ``thief``, the largest call waiting behind another."""
        if thief.index in self.thieves:
            return
        pool = self.pool
        current = [c for c in pool.in_flight() if c.generation == pool.generation[c.actor]
                   and pool.health[c.actor] is Health.READY and c in self.claims]
        first: dict[int, Call] = {}  # per actor, its oldest call in flight (running)
        for call in current:
            first.setdefault(call.actor, call)
        mine = self._solve_time(thief)

        def sooner_here(c: Call) -> bool:  # than behind the victim's running call
            theirs = self._solve_time(self.slots[c.actor])
            n, ahead = len(c.tasks), len(first[c.actor].tasks)
            return n * mine <= (n + 0.5 * ahead) * theirs

        waiting = [c for c in current if c.actor != thief.index and c is not first[c.actor]
                   and self.claims[c].thief is None and not self.claims[c].tried
                   and sooner_here(c)]
        if not waiting:
            return
        call = max(waiting, key=lambda c: (len(c.tasks), c.seq))
        claim = self.claims[call]
        claim.thief, claim.tried = thief, True
        self.thieves.add(thief.index)
        self.stats.withdrawals.append(thief.index)
        pool.withdraw(call)
        logger.debug("actor %d asks actor %d for its call %d (%d points)", thief.index,
                     call.actor, call.seq, len(call.tasks))

    def _withdrawn(self, call: Call) -> None:
        """A call came back unstarted: its jobs go to the actor that asked for them,
        submitted at once (left in its queue, the busy actor could steal them back)."""
        claim = self.claims.pop(call)
        if claim.thief is not None:
            self.thieves.discard(claim.thief.index)
        self.stats.withdrawn += 1
        self.unsubmitted += len(claim.jobs)
        thief = claim.thief
        if thief is not None and self.pool.health[thief.index] is Health.READY:
            thief.queue.extendleft(reversed(claim.jobs))
            self._fill_slot(thief)
        else:
            self.pending.appendleft(collections.deque(claim.jobs))

    def _steal(self, slot: _Slot) -> None:
        victim = max((s for s in self.slots if s is not slot), key=lambda s: len(s.queue),
                     default=None)
        if victim is None or not victim.queue:
            return
        # the back half (a last single point too: better now here than after the
        # victim's calls in flight); all of it if the victim is restarting or gone
        ready = self.pool.health[victim.index] is Health.READY
        keep = len(victim.queue) // 2 if ready else 0
        items = list(victim.queue)
        victim.queue = collections.deque(items[:keep])
        slot.queue = collections.deque(items[keep:])
        logger.debug("actor %d takes %d points from actor %d", slot.index, len(slot.queue),
                     victim.index)

    def _collect(self, call: Call, event: Event) -> None:
        claim = self.claims.pop(call)
        if claim.thief is not None:
            self.thieves.discard(claim.thief.index)
        slot = self.slots[call.actor]
        batch = len(claim.jobs)
        for job, evaluation in zip(claim.jobs, event.evaluations, strict=True):
            self.attempts[job.key] += 1
            evaluation = evaluation.delivered(self.attempts[job.key], event.t_roundtrip, batch)
            if evaluation.t_eval is not None:
                self.recent.append(evaluation.t_eval)
                slot.recent.append(evaluation.t_eval)
            self.stats.rows += 1
            self.on_row(job, evaluation)

    def _lost(self, call: Call, error: BaseException) -> None:
        """A call died with its actor: count an attempt per job and requeue it (the
        pool restarts the actor, or gives it up)."""
        claim = self.claims.pop(call)
        if claim.thief is not None:
            self.thieves.discard(claim.thief.index)
        slot = self.slots[call.actor]
        self.stats.lost_calls += 1
        again = []
        for job in claim.jobs:
            self.attempts[job.key] += 1
            if self.attempts[job.key] >= self.max_attempts:
                self.stats.rows += 1
                self.on_row(job, _lost(job, self.attempts[job.key], error))
            else:
                again.append(job)
        self.unsubmitted += len(again)
        if self.pool.health[slot.index] is Health.DEAD:  # given up while this was in flight
            if again:
                self.pending.appendleft(collections.deque(again))
        else:
            slot.queue.extendleft(reversed(again))

    def _retire(self, slot: _Slot) -> None:
        """The pool gave the actor up (and said so): its queued points go to the others."""
        if slot.queue:
            self.pending.append(slot.queue)
            slot.queue = collections.deque()


def _lost(job: Job, attempts: int, error: BaseException) -> Evaluation:
    text = " ".join(str(error).split())[:500]
    return Evaluation(key=job.key, status=Status.LOST, attempts=attempts,
                      error=f"actor died during the evaluation {attempts} times: "
                            f"{type(error).__name__}: {text}")
