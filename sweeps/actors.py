"""The steady-state actor: holds one solved steady state, solves the next point from it.

``SteadyStateActor`` is a plain class (usable and testable without Ray);
:mod:`hetspace.sweeps.pool` runs it as a Ray actor. ``evaluate(task)`` solves
the task's params warm-started from the held solution; if that fails it
retries once cold; if that fails too it returns a failed row with the error
text and keeps the solution it held. It never raises for a model failure: the
driver stores failed points as rows, never holes. ``evaluate_batch(tasks)``
walks several points of a chain in one call (one row each, in order), each
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

import dataclasses
import inspect
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from hetspace.core.protocol import get_model

logger = logging.getLogger(__name__)

STATUS_OK = "ok"
STATUS_FAILED = "failed"


@dataclasses.dataclass(frozen=True, slots=True)
class Task:
    """What an actor needs to evaluate one point (a pure function of these)."""

    key: str
    params: Any
    numerics: Any
    seed: int


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
        self.threads = set_numba_threads(num_cpus)
        load_numba_target()
        self._takes_seed = "seed" in inspect.signature(self.model.solve).parameters
        self._name: str | None = None

    def evaluate(self, task: Task) -> dict[str, Any]:
        """Solve one point; returns its row (status, error, moments, timings, actor).

        ``started_unix`` (wall clock of the actor's host) and ``t_eval`` place the
        evaluation in time, so that the idle time of an actor can be measured.
        """
        started = time.time()
        t0 = time.perf_counter()
        self.evaluated += 1
        self._maybe_crash()
        if self._sleep:
            time.sleep(self._sleep)
        row: dict[str, Any] = {"key": task.key, "warm_start": self.held is not None,
                               "cold_retry": False, "error": None}
        sol, error = None, None
        if self.held is not None:
            warm = self._warm_start(task)
            sol, error = self._solve(task, warm)
            if sol is None and warm is not self.held:  # extrapolated: the plain warm start
                sol, error = self._solve(task, self.held)
        if sol is None:
            row["cold_retry"] = self.held is not None
            sol, cold_error = self._solve(task, None)
            error = cold_error if error is None else f"warm: {error}; cold: {cold_error}"
        t_solve = time.perf_counter() - t0
        if sol is None:
            row.update(status=STATUS_FAILED, error=error, moments={}, n_iter=None)
        else:
            self.previous, self.held, self.held_key = self.held, sol, task.key
            self._inputs = (self._inputs[1], task.params)
            row.update(status=STATUS_OK, moments=_finite_moments(sol.moments()),
                       n_iter=_total_iter(sol.n_iter))
        if self._name is None:
            self._name = _actor_name()
        row.update(t_solve=t_solve, t_eval=time.perf_counter() - t0, started_unix=started,
                   actor=self._name, pid=os.getpid())
        return row

    def evaluate_batch(self, tasks: list[Task]) -> list[dict[str, Any]]:
        """Evaluate ``tasks`` in order (a piece of a chain); one row per task.

        Each point goes through :meth:`evaluate` (so subclasses that override it
        apply to batches too): a failed point becomes a failed row and the next one
        starts warm from the last steady state that was solved.
        """
        return [self.evaluate(task) for task in tasks]

    def ping(self) -> int:
        """The actor process id (the driver pings a restarted actor before using it)."""
        return os.getpid()

    def held_info(self) -> dict[str, Any] | None:
        """The key and moments of the held steady state (None before any success)."""
        if self.held is None:
            return None
        return {"key": self.held_key, "moments": _finite_moments(self.held.moments())}

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
