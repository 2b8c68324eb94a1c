"""The steady-state actor: holds one solved steady state, solves the next point from it.

``SteadyStateActor`` is a plain class (usable and testable without Ray);
:mod:`hetspace.sweeps.pool` runs it as a Ray actor. ``evaluate(task)`` solves
the task's params warm-started from the held solution; if that fails it
retries once cold; if that fails too it returns a failed :class:`Evaluation` with
the error text and keeps the solution it held. It never raises for a model
failure: the driver stores failed points as rows, never holes.
``evaluate_batch(tasks)`` walks several points of a chain in one call (one
evaluation each, in order), each
warm-started from the last success, exactly as one ``evaluate`` per point
would: the batch only saves the per-call cost (Ray, driver bookkeeping).

An evaluation depends only on (params, numerics, seed) (the seed is passed to
models whose ``solve`` takes a ``seed``): the warm start changes
how fast a solve converges, not where (to the solver's tolerance).

The actor also keeps the solution before the held one. When the next point
lies on their line (params = held + t (held - previous), 0 < |t| <= 2: the
next point of a grid row, a central difference) and the model offers
``extrapolate``, the warm start is the model's extrapolation along that line;
if that solve fails, the held solution is tried before the cold retry.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import heapq
import inspect
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hetspace.core.protocol import get_model

logger = logging.getLogger(__name__)



class Status(enum.StrEnum):
    """How an evaluation ended. ``OK``: solved; ``FAILED``: the model could not solve
    it (the error says why); ``LOST``: its actor died during it as often as the
    scheduler allows; ``WITHDRAWN``: what a call returns, instead of its evaluations,
    when the driver withdrew it before it started (its points go to another actor)."""

    OK = "ok"
    FAILED = "failed"
    LOST = "lost"
    WITHDRAWN = "withdrawn"


@dataclasses.dataclass(frozen=True, slots=True)
class Evaluation:
    """One point's evaluation, from the actor that made it to the store, the tracking
    and the estimation driver. The actor fills what it measured; the scheduler adds
    ``attempts`` (evaluations of the point so far, lost ones included), ``t_roundtrip``
    (seconds from sending its call to receiving it) and ``batch`` (points in that call)
    with :meth:`delivered`. :meth:`row` is its flat form (the store's columns)."""

    key: str
    status: Status
    moments: Mapping[str, float] = dataclasses.field(default_factory=dict)
    error: str | None = None
    diagnostics: Mapping[str, float] = dataclasses.field(default_factory=dict)
    by_location: Mapping[str, list[float]] = dataclasses.field(default_factory=dict)
    n_iter: int | None = None
    warm_start: bool = False
    cold_retry: bool = False
    t_solve: float | None = None
    t_eval: float | None = None
    started_unix: float | None = None
    actor: str | None = None
    pid: int | None = None
    attempts: int = 1
    t_roundtrip: float | None = None
    batch: int | None = None

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    def delivered(self, attempts: int, t_roundtrip: float | None, batch: int | None
                  ) -> Evaluation:
        """This evaluation as the driver delivers it (see the class docstring)."""
        return dataclasses.replace(self, attempts=attempts, t_roundtrip=t_roundtrip,
                                   batch=batch)

    def row(self) -> dict[str, Any]:
        """The fields as a dict (status as its text): what the store flattens."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["status"] = self.status.value
        return out


#: How long a numbered call waits for the call numbered before it to arrive (seconds):
#: long enough for two calls sent together to reach a busy actor, and a safety net for
#: a number that never comes (a call that failed before it got here). After a restart
#: the driver's ping says where the numbers resume (``CallOrder.expect``).
ORDER_GRACE = 1.0


class CallOrder:
    """Admits an actor's calls one at a time, in the order the driver numbered them.

    A Ray actor with several threads starts its calls in no guaranteed order:
    two calls that reach an idle actor together may start the wrong way round.
    Each call the pool sends carries a number (``seq``); a call enters when
    nothing runs and no waiting call has a smaller number, and, if its number is
    not the next one expected, only after waiting ``ORDER_GRACE`` seconds for the
    missing one (after a restart the numbering continues from the driver's
    count; a call that never arrives must not stop the others). Calls without a
    number (queries) enter in the order they came, ahead of numbered ones. The
    driver's ping to a restarted actor tells it the next number (:meth:`expect`).
    Re-entrant: the thread inside may enter again. A waiting call can be
    withdrawn (:meth:`withdraw`): it then returns without running.
    """

    def __init__(self, grace: float = ORDER_GRACE) -> None:
        self.grace = grace
        self._cond = threading.Condition(threading.Lock())
        self._waiting: list[tuple[int, int]] = []  # heap of (seq or -1, arrival)
        self._arrivals = 0
        self._expected = 0  # the number of the next call in order
        self._owner: int | None = None
        self._depth = 0
        self._withdrawn: set[int] = set()

    @contextlib.contextmanager
    def turn(self, seq: int | None = None) -> Iterator[bool]:
        """Hold the actor for one call numbered ``seq`` (None: a query, not numbered).

        Yields True, or False (at once, holding nothing) if the call was withdrawn
        while it waited (:meth:`withdraw`).
        """
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                admitted = True
            else:
                admitted = self._wait(me, seq)
        if not admitted:
            yield False
            return
        try:
            yield True
        finally:
            with self._cond:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
                    self._cond.notify_all()

    def expect(self, seq: int) -> None:
        """The numbered calls still to come start at ``seq`` (earlier ones were lost)."""
        with self._cond:
            self._expected = max(self._expected, seq)
            self._cond.notify_all()

    def withdraw(self, seq: int) -> bool:
        """Withdraw the call numbered ``seq`` if it is waiting for its turn (True), so
        that the driver can give its points to an idle actor; False if it is not
        waiting here (running, done, or not arrived yet)."""
        with self._cond:
            if not any(entry[0] == seq for entry in self._waiting):
                return False
            self._withdrawn.add(seq)
            self._cond.notify_all()
            return True

    def _wait(self, me: int, seq: int | None) -> bool:
        entry = (-1 if seq is None else seq, self._arrivals)
        self._arrivals += 1
        heapq.heappush(self._waiting, entry)
        try:
            admitted = self._until_turn(entry, seq)
        except BaseException:  # interrupted while waiting: never block the calls behind
            self._leave(entry)
            raise
        if not admitted:
            self._leave(entry)
            return False
        heapq.heappop(self._waiting)
        self._owner, self._depth = me, 1
        if seq is not None:
            self._expected = max(self._expected, seq + 1)
        return True

    def _leave(self, entry: tuple[int, int]) -> None:
        self._waiting.remove(entry)
        heapq.heapify(self._waiting)
        self._cond.notify_all()  # the head of the line may have changed

    def _until_turn(self, entry: tuple[int, int], seq: int | None) -> bool:
        """Wait until ``entry`` may run (True) or was withdrawn (False)."""
        deadline = None
        while True:
            if seq is not None and seq in self._withdrawn:
                self._withdrawn.discard(seq)
                self._expected = max(self._expected, seq + 1)  # the next need not wait
                return False
            if self._owner is None and self._waiting[0] == entry:
                if seq is None or seq <= self._expected:
                    return True
                now = time.monotonic()
                deadline = now + self.grace if deadline is None else deadline
                if now >= deadline:
                    return True
                self._cond.wait(deadline - now)
            else:
                self._cond.wait()


def serial(method):
    """Run ``method`` as the actor's only work: one solve (or query) at a time.

    The Ray actor runs its calls on two threads (:mod:`hetspace.sweeps.pool`), so
    that the next call is already received and unpacked, waiting here, when the
    current one ends: Ray's per-call work on the actor (receiving a call, sending
    the previous one's result) overlaps the solves. :class:`CallOrder` keeps the
    work sequential and in the order of the keyword ``seq`` the pool passes.
    Numba's thread count is per thread, so it is set here for the thread that runs.
    """
    @functools.wraps(method)
    def locked(self, *args, seq: int | None = None, **kwargs):
        with self._serial.turn(seq) as admitted:
            if not admitted:
                return Status.WITHDRAWN
            ident = threading.get_ident()
            if ident not in self._numba_set:
                set_numba_threads(self.threads)
                self._numba_set.add(ident)
            return method(self, *args, **kwargs)

    # the signature Ray checks a call's arguments against: the method's, plus seq
    # (Ray unwraps methods, so the wrapper must not point back at ``method``)
    del locked.__wrapped__
    sig = inspect.signature(method)
    extra = inspect.Parameter("seq", inspect.Parameter.KEYWORD_ONLY, default=None)
    params = list(sig.parameters.values())
    at = next((k for k, p in enumerate(params) if p.kind is p.VAR_KEYWORD), len(params))
    locked.__signature__ = sig.replace(parameters=[*params[:at], extra, *params[at:]])
    return locked


@dataclasses.dataclass(frozen=True, slots=True)
class Task:
    """What an actor needs to evaluate one point (a pure function of these)."""

    key: str
    params: Any
    numerics: Any
    seed: int
    dynamics: Any = None  # points.Dynamics: the transition this point also reports


class SteadyStateActor:
    """Holds one steady state (``held``) of ``model``; evaluates points warm from it.

    num_cpus: the CPUs the actor was given; numba's thread count is set to it.
    crash_after / crash_marker / sleep: the debug hooks (``debug`` in a spec): on
    its ``crash_after``-th evaluation the actor calls ``os._exit(1)`` unless the
    marker file exists (it is created first, so the crash happens once); each
    evaluation first waits ``sleep`` seconds. ``recoverable``: the exceptions of a
    solve that become a failed row (subclasses narrow it so that others propagate).
    """

    recoverable: tuple[type[BaseException], ...] = (Exception,)

    def __init__(self, model: str, num_cpus: int = 1, crash_after: int | None = None,
                 crash_marker: str | None = None, sleep: float = 0.0):
        self.model = get_model(model)
        self.held: Any = None
        self.held_key: str | None = None
        self.previous: Any = None  # the solution held before ``held``
        self._inputs: tuple[Any, Any] = (None, None)  # the params solved for previous, held
        self.extrapolated = 0  # warm starts extrapolated from (previous, held)
        self.evaluated = 0
        self._crash = (crash_after, crash_marker)
        self._sleep = float(sleep)
        self._serial = CallOrder()
        self.threads = set_numba_threads(num_cpus)
        self._numba_set = {threading.get_ident()}  # threads whose numba count is set
        load_numba_target()
        self._takes_seed = "seed" in inspect.signature(self.model.solve).parameters
        self._name: str | None = None

    @serial
    def evaluate(self, task: Task) -> Evaluation:
        """Solve one point; its :class:`Evaluation` (status, error, moments, timings, actor).

        ``started_unix`` (wall clock of the actor's host) and ``t_eval`` place the
        evaluation in time, so that the idle time of an actor can be measured.
        """
        started = time.time()
        t0 = time.perf_counter()
        self.evaluated += 1
        self._maybe_crash()
        if self._sleep:
            time.sleep(self._sleep)
        warm_start, cold_retry = self.held is not None, False
        sol, error = None, None
        if self.held is not None:
            warm = self._warm_start(task)
            sol, error = self._solve(task, warm)
            if sol is None and warm is not self.held:  # extrapolated: the plain warm start
                sol, error = self._solve(task, self.held)
        if sol is None:
            cold_retry = self.held is not None
            sol, cold_error = self._solve(task, None)
            error = cold_error if error is None else f"warm: {error}; cold: {cold_error}"
        t_solve = time.perf_counter() - t0
        result: dict[str, Any] = {}
        if sol is None:
            result.update(status=Status.FAILED, error=error)
        else:
            self.previous, self.held, self.held_key = self.held, sol, task.key
            self._inputs = (self._inputs[1], task.params)
            moments, error = _finite_moments(sol.moments()), None
            if task.dynamics is not None:
                stats, error = self._dynamics(task, sol)
                moments.update(stats)
            result.update(status=Status.OK, moments=moments, error=error,
                          diagnostics=_diagnostics(sol), by_location=_by_location(sol),
                          n_iter=_total_iter(sol.n_iter))
        if self._name is None:
            self._name = _actor_name()
        return Evaluation(key=task.key, warm_start=warm_start, cold_retry=cold_retry,
                          t_solve=t_solve, t_eval=time.perf_counter() - t0,
                          started_unix=started, actor=self._name, pid=os.getpid(), **result)

    @serial
    def evaluate_batch(self, tasks: list[Task]) -> list[Evaluation]:
        """Evaluate ``tasks`` in order (a piece of a chain); one evaluation per task.

        Each point goes through :meth:`evaluate` (so subclasses that override it
        apply to batches too): a failed point becomes a failed evaluation and the next one
        starts warm from the last steady state that was solved.
        """
        return [self.evaluate(task) for task in tasks]

    def ping(self, expect: int | None = None) -> int:
        """The actor process id (the driver pings a restarted actor before using it).

        ``expect``: the number of the next call the driver will send (a restarted
        actor lost the ones before; see :class:`CallOrder`). Not serialised: it
        answers while a solve runs."""
        if expect is not None:
            self._serial.expect(expect)
        return os.getpid()

    def withdraw(self, seq: int) -> bool:
        """Withdraw call ``seq`` if it has not started: it returns ``Status.WITHDRAWN``, its
        points unevaluated (the scheduler gives them to an idle actor). Not serialised."""
        return self._serial.withdraw(seq)

    @serial
    def numba_threads(self) -> int:
        """Numba's thread count in the thread that runs this actor's solves."""
        import numba

        return numba.get_num_threads()

    @serial
    def held_info(self) -> dict[str, Any] | None:
        """The key and moments of the held steady state (None before any success)."""
        if self.held is None:
            return None
        return {"key": self.held_key, "moments": _finite_moments(self.held.moments())}

    @serial
    def region_shock(self, location: int, size: float) -> dict[str, Any]:
        """Moments after a region shock, solved warm from the held steady state (kept)."""
        if self.held is None:
            raise RuntimeError("this actor holds no steady state yet")
        if self.model.region_shock is None:
            raise NotImplementedError(f"model {self.model.name!r} does not support region shocks")
        params = self.model.region_shock(self.held.params, location, size)
        sol = self.model.solve(params, numerics=self.held.numerics, warm_start=self.held)
        return {"key": self.held_key, "location": location, "size": size,
                "moments": _finite_moments(sol.moments())}

    @serial
    def transition(self, location: int, size: float, horizon: int,
                   at: tuple[int, ...] = (1, 5, 10, 25)) -> dict[str, Any]:
        """Statistics of the transition from the held steady state after a permanent
        region shock (``ModelSpec.dynamics``); the shocked steady state is solved warm
        from the held one, which stays held."""
        if self.held is None:
            raise RuntimeError("this actor holds no steady state yet")
        if self.model.dynamics is None or self.model.region_shock is None:
            raise NotImplementedError(f"model {self.model.name!r} has no transitions")
        params = self.model.region_shock(self.held.params, location, size)
        new = self.model.solve(params, numerics=self.held.numerics, warm_start=self.held)
        stats = self.model.dynamics(self.held, new, location, horizon, tuple(at))
        return {"key": self.held_key, "location": location, "size": size,
                "horizon": horizon, "statistics": _finite_moments(stats)}

    def _dynamics(self, task: Task, sol: Any) -> tuple[dict[str, float], str | None]:
        """The statistics of the transition from the task's unshocked economy (solved warm
        from ``sol``, the shocked one) to ``sol``; a failure is the row's error, its
        steady state stays a result."""
        d = task.dynamics
        try:
            old = self.model.solve(d.base, numerics=task.numerics, warm_start=sol)
            if not old.converged:
                return {}, f"dynamics: the unshocked economy did not converge ({old.residuals})"
            stats = self.model.dynamics(old, sol, d.location, d.horizon, d.at)
        except self.recoverable as e:
            logger.debug("dynamics failed", exc_info=True)
            return {}, f"dynamics: {type(e).__name__}: {' '.join(str(e).split())}"
        return _finite_moments(stats), None

    def _warm_start(self, task: Task) -> Any:
        """The held solution, or the model's extrapolation when the task's point lies
        on the line through the previous and the held solutions' points."""
        if self.previous is None or self.model.extrapolate is None:
            return self.held
        # the params asked for, not the solutions' (which may hold equilibrium prices)
        t = line_position(*self._inputs, task.params)
        if t is None:
            return self.held
        guess = self.model.extrapolate(self.previous, self.held, t)
        self.extrapolated += guess is not self.held
        return guess

    def _solve(self, task: Task, warm: Any) -> tuple[Any, str | None]:
        extra = {"seed": task.seed} if self._takes_seed else {}
        try:
            sol = self.model.solve(task.params, numerics=task.numerics, warm_start=warm, **extra)
        except self.recoverable as e:  # a failed row (KeyboardInterrupt passes)
            logger.debug("solve failed (warm=%s)", warm is not None, exc_info=True)
            return None, f"{type(e).__name__}: {' '.join(str(e).split())}"
        if not sol.converged:
            return None, f"not converged (residuals: {dict(sol.residuals)})"
        return sol, None

    def _maybe_crash(self) -> None:
        after, marker = self._crash
        if after is None or self.evaluated != after or marker is None:
            return
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.close(fd)
        logger.warning("debug hook: actor exits on evaluation %d", after)
        os._exit(1)


#: how far off the line a point may be (relative to its step from the held point) and
#: still be extrapolated to: grid values are often rounded, and such a guess is still good
LINE_TOLERANCE = 1e-2
MAX_EXTRAPOLATION = 2.0


def line_position(a: Any, b: Any, c: Any) -> float | None:
    """t with params c = b + t (b - a), or None when c is not on that line.

    Params are compared field by field: numbers and numeric arrays form the
    vectors; every other field (closure names, flags) must be equal. t must
    satisfy 0 < |t| <= MAX_EXTRAPOLATION (further out the guess is worse than b).
    """
    if type(a) is not type(b) or type(b) is not type(c) or not dataclasses.is_dataclass(a):
        return None
    xs: list[list[np.ndarray]] = [[], [], []]
    for f in dataclasses.fields(a):
        values = [getattr(p, f.name) for p in (a, b, c)]
        arrays = [np.asarray(v) for v in values]
        if all(x.dtype.kind in "fiu" for x in arrays) and not isinstance(values[0], bool):
            if len({x.shape for x in arrays}) > 1:
                return None
            for store, x in zip(xs, arrays, strict=True):
                store.append(x.astype(float).ravel())
        elif not all(_same(values[0], v) for v in values[1:]):
            return None
    if not xs[0]:
        return None
    pa, pb, pc = (np.concatenate(x) for x in xs)
    d0, d1 = pb - pa, pc - pb
    norm0 = float(d0 @ d0)
    if not norm0 > 0.0 or not np.all(np.isfinite(d1)):
        return None
    t = float(d1 @ d0) / norm0
    if float(np.linalg.norm(d1 - t * d0)) > LINE_TOLERANCE * float(np.linalg.norm(d1)):
        return None  # (relative to the new step: a tiny step across the line is off it)
    return t if 0.0 < abs(t) <= MAX_EXTRAPOLATION else None


def _same(x: Any, y: Any) -> bool:
    try:
        return bool(np.array_equal(x, y)) if isinstance(x, np.ndarray) else bool(x == y)
    except (TypeError, ValueError):
        return False


def set_numba_threads(num_cpus: int) -> int:
    """Set numba's thread count to the actor's CPUs (bounded by numba's maximum)."""
    import numba

    n = max(1, min(int(num_cpus), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(n)
    return n


def load_numba_target() -> None:
    """Initialise numba's CPU target (typing and code-generation registries) now.

    Numba does it once per process, on the first call of a jitted function: about
    0.25 s, which would otherwise land in an actor's first solve (on top of
    loading that model's cached kernels). Done at start-up, it counts as the
    actor's start-up (``SteadyStatePool.wait_ready``), not as solve time.
    """
    try:
        from numba.core.registry import cpu_target

        cpu_target.typing_context.refresh()
        cpu_target.target_context.refresh()
    except (ImportError, AttributeError):  # pragma: no cover - numba internals moved
        logger.debug("cannot initialise numba's CPU target early", exc_info=True)


def crash_marker_path(out_dir: Path) -> str:
    """Where the debug crash hook records that it fired (one crash per output folder)."""
    return str(Path(out_dir).resolve() / ".debug_crash_done")


def _finite_moments(moments: dict[str, Any]) -> dict[str, float]:
    return {str(k): float(v) for k, v in moments.items()}


def _diagnostics(sol: Any) -> dict[str, float]:
    """The solution's numerical diagnostics (``diagnostics()`` where the model has it,
    else its numeric residuals): recorded beside the moments, not among them."""
    if callable(getattr(sol, "diagnostics", None)):
        return _finite_moments(sol.diagnostics())
    return {str(k): float(v) for k, v in sol.residuals.items()
            if isinstance(v, (int, float, np.floating)) and not isinstance(v, bool)}


def _by_location(sol: Any) -> dict[str, list[float]]:
    """The solution's (J,) arrays by location as lists (``by_location()`` where the model
    has it, else none): stored as ``l_`` list columns."""
    if not callable(getattr(sol, "by_location", None)):
        return {}
    return {str(k): [float(x) for x in np.asarray(v, dtype=float).ravel()]
            for k, v in sol.by_location().items()}


def _total_iter(n_iter: Any) -> int:
    if isinstance(n_iter, dict):
        return int(sum(n_iter.values()))
    return int(n_iter)


def _actor_name() -> str:
    try:
        import ray

        if ray.is_initialized():
            actor_id = ray.get_runtime_context().get_actor_id()
            if actor_id:
                return actor_id[:12]
    except ImportError:  # pragma: no cover - ray is a dependency
        pass
    return "local"
