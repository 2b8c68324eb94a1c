"""The global search: an Optuna study driven by ask/tell from the driver.

Storage is Optuna's journal file (``<out>/study.journal``): every ask and tell
is appended, so a study resumes after a crash (``load_if_exists``). On
resume, trials left RUNNING by a driver that is no longer alive are told
FAIL (user attribute ``abandoned``) and their parameters enqueued again, so
the study ends with the requested number of finished trials and no point
counted twice.

Trials are pipelined: each actor has up to ``depth`` trials in flight
(``optimizer.depth``, 2 by default; an actor solves its calls one at a time, in
the order they were sent: :func:`hetspace.sweeps.actors.serial`), so an actor
that finishes a trial finds the next one already queued
on it, and the driver's work for
that row (Ray's round trip, the tell, the ask of the next trial, the journal writes)
overlaps the actor's next solve instead of sitting between two solves. A new trial
goes to the actor with the fewest trials in flight and, among those, to the one that
will hold the point nearest to it once its queue is done (its last queued trial, for
the warm start). The price is that a trial is drawn before the trials in flight are
told: TPE samples with its constant liar (running trials count as bad), CMA-ES has a
population equal to the number of actors and, like Optuna's CMA-ES with any parallel
workers, draws more than a population per generation (it updates on the first
``popsize`` finished trials of a generation; later ones are recorded but do not move
the distribution; a population equal to actors x depth did no better in a
simulation with 4 trials in flight). The budget is exact: trials finished plus
trials in flight never exceed ``optimizer.n_trials``.

A trial whose solve fails with ``SolverConvergenceError`` (or whose parameters the
model rejects) is told FAIL with the reason in its user attribute ``fail_reason`` and
counts as finished. A trial lost with its actor (each of that actor's trials in
flight: the one solving and those queued behind it) is told FAIL (``abandoned``) and
its parameters enqueued again, once per lost trial; Ray restarts the actor, which
gets no new trial until it answers a ping (calls sent to a restarting actor fail
too). Any other exception stops the study (the running trials are told FAIL and
re-enqueued, then the error propagates as ``ModelEvaluationError``).

The driver's own time per trial is kept short too: a trial is sent to its actor right
after ``ask`` (its ``driver`` and ``x`` attributes are written while it solves), and
the journal is appended without an ``fsync`` per operation (:class:`JournalFile`).
When a row arrives the driver first tells it (two user attributes, ``t_eval`` and
``moments``, must precede the tell), together with every other row already back,
and only then asks for the next trial (create, one write per parameter, the TPE
draw), so that the sampler sees every finished trial.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import FloatDistribution
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock
from optuna.trial import TrialState

from hetspace.core.errors import HetspaceError, InvalidParamsError, ModelEvaluationError
from hetspace.sweeps.pool import Call, Event, Kind
from hetspace.sweeps.tracking import pid_alive

from .fingerprint import check_objective
from .transforms import from_z

logger = logging.getLogger(__name__)

JOURNAL = "study.journal"
Progress = Callable[[int, int, float], None]  # (finished, wanted, best objective)


class StudyExistsError(HetspaceError, RuntimeError):
    """The output folder already holds a study and resuming was not asked for."""


def open_study(spec: Any, out_dir: Path, n_actors: int, resume: bool,
               storage_url: str | None = None) -> optuna.Study:
    """Create (or, with ``resume``, load) the study; abandon a dead driver's running trials."""
    path = Path(out_dir) / JOURNAL
    if storage_url is None and path.exists() and not resume:
        raise StudyExistsError(f"{path} exists: resume it (--resume) or choose another --out")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if storage_url is None:
        from optuna.storages import JournalStorage

        path.parent.mkdir(parents=True, exist_ok=True)
        storage: Any = JournalStorage(JournalFile(str(path)))
    else:
        storage = storage_url
    study = optuna.create_study(study_name=spec.name, storage=storage, direction="minimize",
                                sampler=optuna.samplers.RandomSampler(), load_if_exists=True)
    check_objective(study, spec, storage_url or str(path))
    abandon_running(study)
    # a resumed sampler must not replay the random draws of the first session
    sampler = make_sampler(spec, n_actors, offset=len(study.get_trials(deepcopy=False)))
    return optuna.load_study(study_name=spec.name, storage=storage, sampler=sampler)


def check_resumable(spec: Any, out_dir: Path, storage_url: str | None = None) -> None:
    """Raise :class:`StudyChangedError` now (before Ray starts) if the study stored for
    ``spec`` was begun with a different objective; nothing to check if there is none."""
    path = Path(out_dir) / JOURNAL
    if storage_url is None and not path.exists():
        return
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if storage_url is None:
        from optuna.storages import JournalStorage

        storage: Any = JournalStorage(JournalFile(str(path)))
    else:
        storage = storage_url
    try:
        study = optuna.load_study(study_name=spec.name, storage=storage)
    except KeyError:  # no study of that name yet
        return
    check_objective(study, spec, storage_url or str(path))


class JournalFile(JournalFileBackend):
    """Optuna's journal file backend, appended without an ``fsync`` per operation.

    Optuna's backend fsyncs after each of the 6 + p journal writes of a trial (create,
    one per parameter, four user attributes, tell), 0.3 ms each on an idle disk and
    several ms on a busy shared one; that was the largest part of the driver's time
    per trial. Here each write still goes to the file under Optuna's lock (the same
    symlink lock, so other Optuna processes may append too) and reaches the OS at
    once, so a killed driver, the crash that resume handles, loses nothing; the file
    is fsynced at most once every ``SYNC_SECONDS``, so a power loss can lose the
    trials of the last few seconds (then left to the kernel's write-back).
    """

    SYNC_SECONDS = 2.0

    def __init__(self, file_path: str):
        self._path = file_path
        self._locker = JournalFileSymlinkLock(file_path)
        self._synced = time.monotonic()
        super().__init__(file_path, self._locker)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
        self._locker.acquire()
        try:
            with open(self._path, "ab") as f:
                f.write(text.encode("utf-8"))
                if time.monotonic() - self._synced > self.SYNC_SECONDS:
                    f.flush()
                    os.fsync(f.fileno())
                    self._synced = time.monotonic()
        finally:
            self._locker.release()


def make_sampler(spec: Any, n_actors: int, offset: int = 0) -> optuna.samplers.BaseSampler:
    """TPE with constant liar, or CMA-ES with population = number of actors (at least 2).

    Seeded with ``spec.seed + offset`` (offset: trials already in a resumed study).
    """
    opt = spec.optimizer
    seed = spec.seed + offset
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if opt.sampler == "tpe":
            return optuna.samplers.TPESampler(seed=seed, constant_liar=True,
                                              multivariate=True,
                                              n_startup_trials=opt.n_startup_trials)
        try:
            import cmaes  # noqa: F401
        except ImportError as e:
            raise HetspaceError("optimizer.sampler cmaes needs the 'cmaes' package "
                                "(pip install cmaes), or use sampler: tpe") from e
        return optuna.samplers.CmaEsSampler(seed=seed, popsize=max(2, n_actors),
                                            n_startup_trials=0)


def abandon_running(study: optuna.Study) -> int:
    """Tell FAIL (and enqueue again) the RUNNING trials whose driver process is gone."""
    host = socket.gethostname()
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        driver = str(t.user_attrs.get("driver", ":0"))
        where, _, pid = driver.rpartition(":")
        if where == host and pid_alive(int(pid or 0)):
            continue
        study._storage.set_trial_user_attr(t._trial_id, "abandoned", f"driver {driver} died")
        study.tell(t.number, state=TrialState.FAIL)
        study.enqueue_trial(t.params, user_attrs={"requeued_from": t.number})
        n += 1
    if n:
        logger.info("re-enqueued %d trials left running by a dead driver", n)
    return n


def finished(study: optuna.Study) -> int:
    """Trials that count towards the budget: complete, or failed for a recorded reason."""
    return sum(1 for t in study.get_trials(deepcopy=False)
               if t.state == TrialState.COMPLETE
               or (t.state == TrialState.FAIL and "fail_reason" in t.user_attrs))


def run_trials(study: optuna.Study, spec: Any, evaluator: Any,
               progress: Progress | None = None, depth: int | None = None) -> None:
    """Ask, evaluate on the actors and tell until ``optimizer.n_trials`` trials are finished.

    ``depth``: trials in flight per actor (1: none queued; see the module docstring);
    None: the spec's ``optimizer.depth``.
    """
    depth = spec.optimizer.depth if depth is None else depth
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    loop = _Loop(study, spec, evaluator, progress, depth)
    try:
        loop.run()
    except BaseException as e:
        loop.stop(f"study stopped: {type(e).__name__}")
        raise


class _Loop:
    def __init__(self, study, spec, evaluator, progress, depth):
        self.study, self.spec, self.ev, self.progress = study, spec, evaluator, progress
        self.depth = depth
        self.dists = {p.name: FloatDistribution(*p.z_bounds) for p in spec.parameters}
        self.done = finished(study)
        self.best = _best(study)  # kept here: the progress bar never queries the storage
        self.inflight: dict[Call, optuna.Trial] = {}
        self.driver = f"{socket.gethostname()}:{os.getpid()}"

    def run(self) -> None:
        wanted = self.spec.optimizer.n_trials
        while True:
            while self.done + len(self.inflight) < wanted and self.ev.free(self.depth):
                self._launch()
            if self.progress is not None:  # after the launches: the actors are busy meanwhile
                self.progress(self.done, wanted, self.best)
            if not self.inflight and (self.done >= wanted or not self.ev.pool.restarting()):
                return
            # every result already back is told before the next ask
            for event in self.ev.events():
                if event.call in self.inflight:
                    self._collect(event)

    def _launch(self) -> None:
        trial = self.study.ask(self.dists)
        x = from_z(self.spec.parameters, [trial.params[n] for n in self.spec.names])
        try:
            params = self.spec.params_at(x)
        except InvalidParamsError as e:
            self._label(trial, x)
            self._fail(trial, f"InvalidParamsError: {' '.join(str(e).split())}")
            return
        actor = self.ev.nearest(x, self.depth)
        call = self.ev.submit(actor, x, params, f"trial-{trial.number}")
        self.inflight[call] = trial
        self._label(trial, x)  # journal writes while the actor solves

    def _label(self, trial: optuna.Trial, x: np.ndarray) -> None:
        """Who runs the trial (for ``abandon_running``) and its natural parameters."""
        trial.set_user_attr("driver", self.driver)
        trial.set_user_attr("x", [float(v) for v in x])

    def _collect(self, event: Event) -> None:
        call = event.call
        trial = self.inflight.pop(call)
        if event.kind is Kind.LOST:
            self.ev.lost(call)
            logger.warning("actor %d died during trial %d; enqueued again", call.actor,
                           trial.number)
            self._requeue(trial, "actor died")
            return
        if event.kind is Kind.RAISED:
            e = event.error
            trial.set_user_attr("error", " ".join(str(e).split())[-500:])
            self.study.tell(trial, state=TrialState.FAIL)
            raise ModelEvaluationError(f"trial {trial.number} raised a non-convergence error "
                                       f"(a bug, so the study stops): {e}") from e
        evaluation = event.evaluations[0]
        self.ev.collected(call, evaluation)
        trial.set_user_attr("t_eval", float(evaluation.t_eval or 0.0))
        if not evaluation.ok:
            self._fail(trial, str(evaluation.error))
            return
        moments = {n: evaluation.moments.get(n, np.nan) for n in self.spec.objective.names}
        trial.set_user_attr("moments", moments)
        value = self.spec.objective.value(moments)
        if not np.isfinite(value):
            self._fail(trial, f"objective not finite (moments {moments})")
            return
        self.study.tell(trial, value)
        self.done += 1
        self.best = value if not self.best <= value else self.best

    def _fail(self, trial: optuna.Trial, reason: str) -> None:
        trial.set_user_attr("fail_reason", reason[:1000])
        self.study.tell(trial, state=TrialState.FAIL)
        self.done += 1

    def _requeue(self, trial: optuna.Trial, reason: str) -> None:
        """Tell FAIL (not counted as finished) and enqueue the same parameters again."""
        trial.set_user_attr("abandoned", reason)
        self.study.tell(trial, state=TrialState.FAIL)
        self.study.enqueue_trial(trial.params, user_attrs={"requeued_from": trial.number})

    def stop(self, reason: str) -> None:
        """Tell FAIL (and enqueue again) the trials still in flight."""
        for call, trial in self.inflight.items():
            self.ev.pool.forget(call)
            self._requeue(trial, reason)
        self.inflight.clear()


def _best(study: optuna.Study) -> float:
    try:
        return float(study.best_value)
    except ValueError:
        return float("nan")
