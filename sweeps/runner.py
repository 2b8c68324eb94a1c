"""Run a sweep end to end: store, tracking, actors, tables, plots.

``run_sweep(spec)`` is what ``hetspace sweep`` and ``hetspace/submit.py`` call.
It locks the output folder, consolidates what earlier (possibly killed) runs
stored, skips finished points (``resume``; failed ones too unless
``retry_failed``), opens the MLflow parent run (in a thread, overlapping the
Ray start-up, but finished before the first point is submitted), fans the
remaining points out over a :class:`~hetspace.sweeps.pool.SteadyStatePool`,
streams rows into the :class:`~hetspace.sweeps.store.ResultStore`, and writes
tables, plots, maps, the HTML report and artifacts at the end. SIGINT and
SIGTERM stop it cleanly:
stored rows stay, the run ends as KILLED, and re-running resumes.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import shutil
import signal
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from hetspace.core.config import atomic_write, first_missing
from hetspace.core.errors import HetspaceError, InvalidConfigError, interrupted
from hetspace.core.protocol import to_plain

from . import cluster
from .actors import Evaluation, Status, crash_marker_path
from .display import Display
from .effects import add_shock_effects, effect_names
from .maps import plot_maps
from .points import Point, order_chains
from .pool import SteadyStatePool
from .report import REPORT_FILE, write_report
from .scheduler import MAX_BATCH, run_points
from .spec import SweepSpec
from .store import PARTS_DIR, RESULTS_FILE, ResultStore
from .tables import META_FILE, plot_moments, write_tables
from .tracking import SweepTracker, check_reachable, environment_info

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, int], None]


class SweepLockedError(HetspaceError, RuntimeError):
    """Another driver is running a sweep in the same output folder."""


class SweepTerminated(KeyboardInterrupt):
    """Raised in the driver when it receives SIGTERM (the run ends as KILLED). A
    KeyboardInterrupt, because Ray turns any other exception raised by a signal handler
    inside ``ray.wait`` or ``ray.get`` into a SystemError (and re-raises a
    KeyboardInterrupt as a plain one)."""


@dataclasses.dataclass
class SweepResult:
    """What a sweep did. ``results``: the store's rows (one per point of the spec).

    ``timings`` (seconds unless noted): setup (Ray, actors, tracking start),
    tracking_wait, fan_out (first call to last row), fan_out_driver_cpu (the
    driver process's CPU time during the fan-out), calls and lost_calls (counts:
    actor calls, calls lost with a dead actor), tracking_finish, wall,
    store_write (time spent writing Parquet parts), tracking (MLflow, driver side),
    outputs (tables, plots and maps, before the report).
    """

    out_dir: Path
    results: pd.DataFrame
    n_points: int
    n_evaluated: int
    n_skipped: int
    n_failed: int
    wall_seconds: float
    run_id: str | None
    tracking_uri: str | None
    tables: list[Path]
    plots: list[Path]
    timings: dict[str, float]
    pool: SteadyStatePool | None = None
    report: Path | None = None


def default_out_dir(spec: SweepSpec) -> Path:
    return Path("out") / "sweeps" / spec.name


def run_sweep(spec: SweepSpec, out_dir: str | os.PathLike[str] | None = None, *,
              num_actors: int | None = None, address: str | None = None, resume: bool = True,
              retry_failed: bool = False, progress: Progress | None = None,
              keep_pool: bool = False, track: bool = True, plots: bool = True,
              max_batch: int = MAX_BATCH) -> SweepResult:
    """Run ``spec``; see the module docstring. ``keep_pool`` returns the live actors;
    ``max_batch``: the most points per actor call (1: one call per point)."""
    out = Path(out_dir) if out_dir is not None else default_out_dir(spec)
    if track and spec.tracking.tracking_uri:
        check_reachable(spec.tracking.tracking_uri)  # before anything is written
    # joining a cluster is quick, so its absence is found before out/ exists (a local
    # Ray starts later, while the tracking store opens)
    sweep = _Sweep(spec, out, num_actors, address, resume, retry_failed, progress,
                   keep_pool, track, plots, max_batch)
    sweep.started_ray = cluster.connect(address) if address is not None else False
    created = first_missing(out)
    try:
        cluster.check_actor_fits(spec.resources.cpus_per_actor)
        out.mkdir(parents=True, exist_ok=True)
        with _locked(out):
            return sweep.run()
    except BaseException as e:
        sweep._shutdown()  # (again: a failed run has shut down already)
        if created is not None and not sweep.fanned_out and isinstance(e, Exception) \
                and not interrupted(e):
            # it failed while setting up (a local Ray that cannot start, actors that never
            # do): the folder it made holds nothing to resume (an interrupt keeps it)
            shutil.rmtree(created, ignore_errors=True)
        raise


class _Sweep:
    def __init__(self, spec, out, num_actors, address, resume, retry_failed, progress,
                 keep_pool, track, plots, max_batch):
        self.spec, self.out, self.address = spec, out.resolve(), address
        self.max_batch = max_batch
        self.num_actors = num_actors or spec.resources.num_actors
        self.resume, self.retry_failed, self.keep_pool = resume, retry_failed, keep_pool
        self.progress, self.track, self.plots = progress, track, plots
        self.store = ResultStore(self.out)
        self.tracker: SweepTracker | None = None
        self.pool: SteadyStatePool | None = None
        self.chains: list[list[Point]] | None = None  # the points to evaluate, cut into chains
        self.started_ray = False
        self.counts = {"done": 0, "failed": 0}
        self.moments_checked = False
        self.fanned_out = False  # points were sent to the actors
        self.timings: dict[str, float] = {}

    def run(self) -> SweepResult:
        t0 = time.perf_counter()
        todo = self._prepare()
        status = "FAILED"
        try:
            with sigterm_raises():  # installed again after Ray's own (ray.init sets one)
                self._start(todo)
                with sigterm_raises():
                    self._fan_out(todo)
            status = "FINISHED"
        except BaseException as e:
            if interrupted(e) or isinstance(e, SystemExit):
                status = "KILLED"
            raise
        finally:
            result = self._finish(status, todo, t0)
        return result

    def _prepare(self) -> list:
        if not self.resume:
            (self.out / RESULTS_FILE).unlink(missing_ok=True)
            shutil.rmtree(self.out / PARTS_DIR, ignore_errors=True)
        self.store.consolidate()
        done = self.store.done_keys(retry_failed=self.retry_failed)
        todo, seen = [], set(done)
        for point in self.spec.points:
            if point.key not in seen:
                seen.add(point.key)
                todo.append(point)
        self.skipped = len(self.spec.points) - len(todo)
        self._write_spec()
        logger.info("%s: %d points, %d to evaluate", self.spec.name, len(self.spec.points),
                    len(todo))
        return todo

    def _start(self, todo: list) -> None:
        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            tracking = ex.submit(self._start_tracking, len(todo)) if self.track else None
            if todo or self.keep_pool:
                self.started_ray = cluster.connect(self.address) or self.started_ray
                n = self._actor_count(len(todo))
                crash = self.spec.debug.crash_after
                self.pool = SteadyStatePool(
                    self.spec.model.name, n, cpus_per_actor=self.spec.resources.cpus_per_actor,
                    crash_after=crash, crash_marker=crash_marker_path(self.out) if crash else None,
                    sleep=self.spec.debug.sleep)
                self.chains = order_chains(todo, n)  # while the actors start
                self.pool.wait_ready()  # actor start-up counts as setup, not as fan-out
            t_wait = time.perf_counter()
            if tracking is not None:
                tracking.result()  # the store exists before any point is submitted
            self.timings["tracking_wait"] = time.perf_counter() - t_wait
        self.timings["setup"] = time.perf_counter() - t0

    def _fan_out(self, todo: list) -> None:
        """Evaluate ``todo`` on the pool; times the fan-out (wall and the driver's CPU)."""
        t_fan, cpu = time.perf_counter(), time.process_time()
        self.fanned_out = True
        if todo:
            stats = run_points(self.pool, todo, self.spec.numerics, self._on_row,
                               max_batch=self.max_batch, on_tick=self.store.flush_if_due,
                               chains=self.chains)
            self.timings.update(calls=stats.calls, lost_calls=stats.lost_calls)
        self.timings["fan_out"] = time.perf_counter() - t_fan
        self.timings["fan_out_driver_cpu"] = time.process_time() - cpu

    def _actor_count(self, n_todo: int) -> int:
        return cluster.actor_count(self.num_actors, self.spec.resources.cpus_per_actor,
                                   n_todo or None, joined=self.address is not None)

    def _start_tracking(self, n_todo: int) -> None:
        t = self.spec.tracking
        self.tracker = SweepTracker(name=self.spec.name, experiment=t.experiment,
                                    out_dir=self.out, tracking_uri=t.tracking_uri,
                                    child_runs=t.child_runs)
        self.tracker.start({
            "model": self.spec.model.name, "n_points": len(self.spec.points),
            "n_to_evaluate": n_todo, "axes": {a: list(v) for a, v in
                                              {**self.spec.grid, **self.spec.zip}.items()},
            "shocks": [dataclasses.astuple(s) for s in self.spec.shocks],
            "seed": self.spec.seed, "spec": self.spec.source, "resume": self.resume,
            "retry_failed": self.retry_failed})

    def _on_row(self, point, evaluation: Evaluation) -> None:
        labels = {"point": point.index, **point.labels(), "seed": point.seed}
        self.store.add(labels, evaluation)
        if evaluation.ok and not self.moments_checked:
            self._check_moments(evaluation.moments)
        if self.tracker is not None:
            self.tracker.log_point(labels, evaluation)
        self.counts["done"] += 1
        self.counts["failed"] += not evaluation.ok
        if self.progress is not None:
            self.progress(self.counts["done"], self.counts["failed"], self._total)

    def _check_moments(self, moments: dict[str, Any]) -> None:
        """Stop at the first solved point if ``moments`` lacks one the spec asks for
        (a model's moments are known once it has solved). Shock effects and the
        statistics of transitions are not a point's own moments: an unshocked point,
        which may be the first, has neither."""
        self.moments_checked = True
        derived = effect_names() if self.spec.shocks else ()
        dynamics, names = self.spec.dynamics, self.spec.model.dynamics_names
        if dynamics is not None and names is not None:
            derived = (*derived, *names(dynamics.at))
        unknown = [m for m in self.spec.moments if m not in moments and m not in derived]
        if unknown:
            raise InvalidConfigError(self.spec.source, [
                f"sweep.moments: {', '.join(map(repr, unknown))} "
                f"{'is not a moment' if len(unknown) == 1 else 'are not moments'} of "
                f"{self.spec.model.name}; its moments: {', '.join(moments)}"])

    @property
    def _total(self) -> int:
        return len(self.spec.points) - self.skipped

    def _finish(self, status: str, todo: list, t0: float) -> SweepResult:
        self.store.consolidate()
        df = self.store.load()
        df = df[df["key"].isin({p.key for p in self.spec.points})].reset_index(drop=True)
        df = add_shock_effects(df, self.spec.axes)
        tables, pngs, report = [], [], None
        t_out = time.perf_counter()
        try:
            if status == "FINISHED" and (df["status"] == Status.OK).any():
                axes = _meta_axes(self.spec)
                display = Display.for_model(self.spec.model, self.spec.periods_per_year)
                names = [loc.name for loc in self.spec.locations]
                tables = write_tables(self.out, df, axes, self.spec.moments, display, names)
                pngs = plot_moments(self.out, df, axes, self.spec.moments, display,
                                    names) if self.plots else []
                pngs += plot_maps(self.out, df, self._meta()) if self.plots else []
            if status == "FINISHED":  # failed points and their errors are in it too
                self.timings["outputs"] = time.perf_counter() - t_out  # tables, plots, maps
                report = write_report(self.out, df, self._meta(), self.timings)
        except BaseException:
            status = "FAILED"  # the run still ends, as FAILED (never left RUNNING)
            raise
        finally:
            t_close = time.perf_counter()
            self._close_tracking(status, df, t_close - t0)
            self.timings["tracking_finish"] = time.perf_counter() - t_close
            if not self.keep_pool or status != "FINISHED":
                self._shutdown()
        wall = time.perf_counter() - t0
        self.timings.update(wall=wall, store_write=self.store.write_seconds,
                            tracking=self.tracker.seconds if self.tracker else 0.0)
        return SweepResult(
            out_dir=self.out, results=df, n_points=len(self.spec.points),
            n_evaluated=self.counts["done"], n_skipped=self.skipped,
            n_failed=int((df["status"] != Status.OK).sum()), wall_seconds=wall,
            run_id=self.tracker.run_id if self.tracker else None,
            tracking_uri=self.tracker.uri if self.tracker else None, tables=tables,
            plots=pngs, timings=self.timings, pool=self.pool if self.keep_pool else None,
            report=report)

    def _close_tracking(self, status: str, df: pd.DataFrame, wall: float) -> None:
        if self.tracker is None or self.tracker.run_id is None:
            return
        ok = df[df["status"] == Status.OK] if "t_solve" in df else df.iloc[:0]
        solve = [t for t in ok.get("t_solve", []) if t == t]
        env = atomic_write(self.out / "environment.json", lambda fh: fh.write(
            json.dumps(environment_info(), indent=2).encode()))
        metrics = {"n_points": len(self.spec.points), "n_evaluated": self.counts["done"],
                   "n_skipped": self.skipped, "n_failed": int((df["status"] != Status.OK).sum()),
                   "wall_seconds": wall, "solve_seconds_median":
                   statistics.median(solve) if solve else float("nan")}
        artifacts = [self.out / "spec.yaml", self.out / META_FILE, self.out / RESULTS_FILE,
                     self.out / "results.csv", self.out / "tables", self.out / "plots", env,
                     self.out / REPORT_FILE]
        if (self.out / RESULTS_FILE).exists():
            df.to_csv(self.out / "results.csv.tmp", index=False)
            os.replace(self.out / "results.csv.tmp", self.out / "results.csv")
        self.tracker.finish(status, metrics, artifacts)

    def _shutdown(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None
        if self.started_ray:
            import ray

            ray.shutdown()

    def _write_spec(self) -> None:
        src = Path(self.spec.source)
        text = src.read_text(encoding="utf-8") if src.is_file() else yaml.safe_dump(
            to_plain(dict(self.spec.raw)), sort_keys=False)
        atomic_write(self.out / "spec.yaml", lambda fh: fh.write(text.encode()))
        meta = json.dumps(self._meta(), indent=2).encode()
        atomic_write(self.out / META_FILE, lambda fh: fh.write(meta))

    def _meta(self) -> dict[str, Any]:
        """What ``sweep.json`` holds: what tables, plots, maps and the report need."""
        return {"name": self.spec.name, "model": self.spec.model.name,
                "axes": _meta_axes(self.spec), "moments": list(self.spec.moments),
                "n_points": len(self.spec.points), "spec": self.spec.source,
                "periods_per_year": self.spec.periods_per_year,
                "locations": [loc.to_list() for loc in self.spec.locations],
                **({"sample": sample_meta(self.spec)} if self.spec.sample else {})}


def sample_meta(spec: SweepSpec) -> dict[str, Any]:
    """A sampled sweep's design for ``hetspace sensitivity``: the section, the design's
    rows and, for each shock label ('none' for the unshocked economy), the point key of
    each row."""
    sample = spec.sample
    names = sample.names
    key_of = {(tuple(p.values[n] for n in names), p.labels()["shock"]): p.key
              for p in spec.points}
    rows = [tuple(float(x) for x in row) for row in zip(*(spec.zip[n] for n in names),
                                                        strict=True)]
    labels = dict.fromkeys(p.labels()["shock"] for p in spec.points)
    return {"design": sample.design, "n": sample.n, "seed": sample.seed,
            "bounds": {k: list(v) for k, v in sample.bounds.items()},
            "rows": [list(r) for r in rows],
            "keys": {label: [key_of[(r, label)] for r in rows] for label in labels}}


def _meta_axes(spec: SweepSpec) -> list[str]:
    return [*spec.axes, *(["shock"] if spec.shocks else [])]


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """An exclusive lock on the output folder (released by the OS if the driver dies)."""
    fd = os.open(out / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SweepLockedError(f"another sweep is running in {out}") from None
        yield
    finally:
        os.close(fd)


def raise_when_safe(signum: int, frame, exc: BaseException) -> None:
    """Raise ``exc`` from the handler of signal ``signum`` unless that would break a lock;
    then send the signal again 50 ms later. Two places are unsafe:

    - an import in progress (a frame of ``importlib._bootstrap`` on the stack): raised
      inside its module-lock bookkeeping, the exception left the lock held, and the
      thread that imported next (the tracking start-up importing MLflow) waited for it
      forever, and the sweep with it (SIGTERM while ``ray.init`` imported its metrics
      modules hung a sweep in about one try in eight on a loaded machine);
    - the logging module: the main thread may be in the fork hook that releases
      logging's lock (Ray starts processes), where an exception is swallowed with the
      lock still held and every thread that logs then waits forever;
    - any fork hook (``os.register_at_fork``; a function named ``*fork*`` on the
      stack): Python prints and ignores an exception raised there, so the signal was
      lost and the sweep ran to its end (seen in filelock's ``_resume_parent_after_fork``
      while Ray started, one CI run in about five).
    """
    if frame is not None and (frame.f_globals.get("__name__") == "logging"
                              or _importing(frame) or _in_fork_hook(frame)):
        threading.Timer(0.05, signal.raise_signal, (signum,)).start()
        return
    raise exc


def _importing(frame) -> bool:
    """Whether ``frame`` or a caller runs the import machinery."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib."):
            return True
        frame = frame.f_back
    return False


def _in_fork_hook(frame) -> bool:
    """Whether ``frame`` or a caller is a function named like a fork hook."""
    while frame is not None:
        if "fork" in frame.f_code.co_name.lower():
            return True
        frame = frame.f_back
    return False


@contextlib.contextmanager
def sigterm_raises(make=lambda signum: SweepTerminated(f"received signal {signum}")
                   ) -> Iterator[None]:
    """In the main thread, turn SIGTERM into the exception ``make(signum)`` (by default
    :class:`SweepTerminated`) while the block runs; elsewhere do nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise_when_safe(signum, frame, make(signum))

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
