"""``estimate(spec)``: global search, local polish, inference, records (DESIGN.md section 4).

1. Optuna's global search over the box (:mod:`hetspace.estimation.study`), trials on
   steady-state actors, the study in a journal file in the output folder;
2. local polish from the best trial: ``scipy.optimize.least_squares`` (trust
   region reflective, within the box, in the search coordinates z) on the
   weighted residual vector R g (R'R = W); its Jacobian by central differences
   whose 2p points run in parallel on the actors, sent together with the
   residual's own point where that pays (``_Residuals``); what it did (status,
   evaluations, cost before and after, which point was kept) is recorded
   (:class:`PolishRecord`, in inference.json and the log);
3. inference at the estimate (:mod:`hetspace.estimation.inference`);
4. records: tables, plots, the trial table and an MLflow parent run
   (:mod:`hetspace.estimation.report`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
from optuna.trial import TrialState
from scipy.optimize import least_squares

from hetspace.core.config import first_missing
from hetspace.core.errors import ModelEvaluationError, SolverConvergenceError, interrupted
from hetspace.sweeps.actors import Evaluation
from hetspace.sweeps.cluster import actor_count, connect
from hetspace.sweeps.tracking import check_reachable

from . import report
from .evaluate import Evaluator
from .inference import (
    Inference,
    central_jacobian,
    difference_points,
    differences,
    infer,
    jacobian_steps,
)
from .objective import statistic_names
from .spec import EstimationSpec
from .study import (
    JOURNAL,
    Progress,
    StudyExistsError,
    check_resumable,
    open_study,
    run_trials,
)
from .transforms import from_z, to_z

logger = logging.getLogger(__name__)

#: Panels simulated at the estimate to estimate Omega when the spec gives no covariance.
OMEGA_REPLICATES = 100
_OMEGA_SEED = 1_000_003


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EstimationResult:
    """The estimate (natural units), its objective and moments, the inference, the records.

    solves: model evaluations requested by the driver (trials, polish, Jacobian);
    solve_seconds: their total time on the actors; wall_seconds: the driver's.
    polish: what the least-squares polish did (None when the spec turns it off).
    """

    spec: EstimationSpec
    out_dir: Path
    estimates: dict[str, float]
    objective: float
    best_trial_objective: float
    moments: dict[str, float]
    inference: Inference
    n_trials: int
    solves: int
    solve_seconds: float
    wall_seconds: float
    files: tuple[Path, ...]
    run_id: str | None
    tracking_uri: str | None
    polish: PolishRecord | None = None


def default_out_dir(spec: EstimationSpec) -> Path:
    return Path("out") / "estimation" / spec.name


def estimate(spec: EstimationSpec, out_dir: str | os.PathLike[str] | None = None, *,
             address: str | None = None, resume: bool = False, num_actors: int | None = None,
             progress: Progress | None = None, storage_url: str | None = None,
             track: bool = True, depth: int | None = None) -> EstimationResult:
    """Run the estimation ``spec`` (see the module docstring); Ray is started if needed.

    ``depth``: Optuna trials in flight per actor (:mod:`hetspace.estimation.study`);
    None: the spec's ``optimizer.depth``.
    """
    t0 = time.perf_counter()
    out = Path(out_dir if out_dir is not None else default_out_dir(spec)).resolve()
    if track and spec.tracking_uri:
        check_reachable(spec.tracking_uri)  # before anything is written
    if storage_url is None and (out / JOURNAL).exists() and not resume:
        raise StudyExistsError(f"{out / JOURNAL} exists: resume it (--resume) or choose "
                               "another --out")
    if resume:
        if storage_url is None and not (out / JOURNAL).exists():
            logger.warning("--resume: there is no study in %s yet (no %s); starting one", out,
                           JOURNAL)  # (a mistyped --out would otherwise pass unnoticed)
        check_resumable(spec, out, storage_url)
    started = connect(address)  # no cluster at --address: fails before out/ exists
    ev, tracker, status = None, None, "FAILED"
    created, trials_began = first_missing(out), False
    try:
        n = actor_count(num_actors or spec.num_actors, spec.cpus_per_actor,  # (as must this)
                        joined=address is not None)
        out.mkdir(parents=True, exist_ok=True)
        study = open_study(spec, out, n, resume, storage_url)
        ev = Evaluator(spec, n)  # actors start while the tracking store opens
        tracker = report.start_tracking(spec, out) if track else None
        ev.pool.wait_ready()
        trials_began = True
        run_trials(study, spec, ev, progress, depth)
        result = _finish(spec, out, study, ev, t0, tracker)
        status = "FINISHED"
        return result
    except BaseException as e:
        if interrupted(e):
            status = "KILLED"
        raise
    finally:
        if ev is not None:
            ev.shutdown()
        if tracker is not None and status != "FINISHED":
            tracker.finish(status, {}, [])
        if started:
            import ray

            ray.shutdown()
        if status == "FAILED" and created is not None and not trials_began:
            # it failed while setting up (actors that never start): the folder it made
            # holds an empty study and a FAILED run, nothing to resume
            shutil.rmtree(created, ignore_errors=True)


def _finish(spec, out, study, ev, t0, tracker) -> EstimationResult:
    if not any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        raise ModelEvaluationError(f"no trial of {spec.name} completed; see the fail_reason "
                                   f"column of the trials (study in {out})")
    best = study.best_trial
    x_best = np.array(best.user_attrs["x"], dtype=float)
    ev.phase = "polish"
    x, polished = polish(spec, ev, x_best, float(best.value)) if spec.optimizer.polish \
        else (x_best, None)
    ev.phase = "estimate"
    evaluation = ev.evaluate(x)
    if not evaluation.ok:
        raise SolverConvergenceError("the model cannot be solved at the estimate: "
                                     f"{evaluation.error}")
    moments = {n: float(evaluation.moments[n]) for n in spec.objective.names}
    inference = run_inference(spec, ev, x, moments)
    est = dict(zip(spec.names, (float(v) for v in x), strict=True))
    result = EstimationResult(
        spec=spec, out_dir=out, estimates=est, objective=spec.objective.value(moments),
        best_trial_objective=float(best.value), moments=moments, inference=inference,
        n_trials=len(study.trials), solves=ev.counters.solves,
        solve_seconds=ev.counters.solve_seconds, wall_seconds=time.perf_counter() - t0,
        files=(), run_id=None, tracking_uri=None, polish=polished)
    files = report.write_outputs(result, study, ev.records)
    run_id, uri = (None, None) if tracker is None else report.finish_tracking(
        tracker, result, files)
    return dataclasses.replace(result, files=tuple(files), run_id=run_id, tracking_uri=uri)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PolishRecord:
    """What the least-squares polish did (``inference.json``, MLflow, the log).

    status, message: ``least_squares``' (1 gtol, 2 ftol, 3 xtol, 4 ftol and xtol: its
    convergence tests passed; 0: ``max_nfev`` evaluations used up), or None and the
    error when a solve failed during the polish; success: status > 0.
    nfev, njev: residual and Jacobian evaluations requested by least squares.
    cost_start, cost_end: least squares' cost 0.5 |R g|^2 (= Q / 2) at its first point
    (the best trial, moved 1e-9 of the width inside the box) and at its result.
    optimality: the first-order optimality at the result (inf-norm of the gradient
    scaled by the distance to the bounds); active: parameters at a bound there.
    kept: "polish" (its result is the estimate) or "best trial" (the polish did not
    lower Q below the best trial's, or a solve failed).
    x_start, x_end: natural parameter values where it started (the best trial) and at
    its result (the best trial again if a solve stopped it).
    solves: model evaluations of the polish (residuals and Jacobian points);
    speculative: Jacobian points sent together with a residual evaluation;
    wasted: those of them never used (their step was rejected, or it was the last);
    seconds: its wall time.

    A polish that stops short of the optimum shows it here: status 2 or 3 (ftol or
    xtol: steps no longer change cost or point) with an optimality far from zero and
    more residual than Jacobian evaluations means rejected steps, i.e. residuals or a
    Jacobian that disagree at the scale of the steps (solver noise); status 0 means
    the budget of 40 evaluations ran out.
    """

    status: int | None
    message: str
    success: bool
    nfev: int
    njev: int
    cost_start: float
    cost_end: float
    optimality: float
    active: tuple[str, ...]
    kept: str
    x_start: dict[str, float]
    x_end: dict[str, float]
    solves: int
    speculative: int
    wasted: int
    seconds: float


def polish(spec: EstimationSpec, ev: Evaluator, x0: np.ndarray,
           q0: float) -> tuple[np.ndarray, PolishRecord]:
    """Least squares on R g(x(z)) within the box from x0 (objective q0); the estimate and
    the record. x0 is kept if the polish does not lower Q or a solve fails."""
    t0 = time.perf_counter()
    lo, hi = np.array([p.z_bounds for p in spec.parameters]).T
    width = hi - lo
    z0 = np.clip(to_z(spec.parameters, x0), lo + 1e-9 * width, hi - 1e-9 * width)
    res = _Residuals(spec, ev, lo, hi, _polish_step(spec) * width)
    solves0 = ev.counters.solves
    fit, error = None, ""
    try:
        fit = least_squares(res.resid, z0, jac=res.jac, bounds=(lo, hi), x_scale=width,
                            method="trf", xtol=1e-12, ftol=1e-15, gtol=1e-15, max_nfev=40)
    except SolverConvergenceError as e:
        error = " ".join(str(e).split())
    x = x0 if fit is None else from_z(spec.parameters, fit.x)
    kept = "polish" if fit is not None and 2.0 * fit.cost <= q0 else "best trial"
    names = spec.names
    record = PolishRecord(
        **_fit_fields(fit, error, res, names), cost_start=res.cost_start, kept=kept,
        x_start=dict(zip(names, map(float, x0), strict=True)),
        x_end=dict(zip(names, map(float, x), strict=True)),
        solves=ev.counters.solves - solves0, speculative=res.speculative,
        wasted=res.speculative - res.used, seconds=time.perf_counter() - t0)
    log = logger.info if record.success and kept == "polish" else logger.warning
    log("polish: status %s (%s), %d residual and %d Jacobian evaluations, cost %.3e -> %.3e, "
        "optimality %.2e, at bounds %s, %d solves (%d speculative, %d unused); kept the %s",
        record.status, record.message, record.nfev, record.njev, record.cost_start,
        record.cost_end, record.optimality, list(record.active), record.solves,
        record.speculative, record.wasted, kept)
    return (x if kept == "polish" else x0), record


def _fit_fields(fit: Any, error: str, res: _Residuals, names: tuple[str, ...]) -> dict[str, Any]:
    """The fields of the record that come from least squares' result (None: it stopped)."""
    if fit is None:
        return {"status": None, "message": f"stopped: {error}", "success": False,
                "nfev": res.nfev, "njev": res.njev, "cost_end": np.nan, "optimality": np.nan,
                "active": ()}
    return {"status": int(fit.status), "message": str(fit.message), "success": bool(fit.success),
            "nfev": int(fit.nfev), "njev": int(fit.njev), "cost_end": float(fit.cost),
            "optimality": float(fit.optimality),
            "active": tuple(n for n, a in zip(names, fit.active_mask, strict=True) if a)}


class _Residuals:
    """R g(x(z)) and its Jacobian for ``least_squares``, the Jacobian's points speculated.

    Trust-region least squares evaluates the residual at a point z and, if it accepts
    the step to z, the Jacobian at z. Speculation sends the 2p points of z's central
    differences together with z in one batch over the actors, z first and the points
    after it in one chain (so that they start warm from z, as they do when sent after
    it), and ``jac(z)`` is then served from that batch: an accepted step saves a round
    trip (the driver's and Ray's time for a single evaluation, about 3 ms locally), a
    rejected one wastes the extra solves. Measured on the benchmarks' polishes
    (benchmarks/estimation.py's calibration and smm3-analytic from fixed starts, 1 and
    2 actors, solves of about 7 ms), speculating at every step after an accepted one
    changed the polish's median time by -32% to +38% from run to run (a median of up
    to 18 unused solves per polish; the number of steps, which solver noise moves,
    dominates), while speculating at the first point alone (where the Jacobian is
    always asked, so nothing is wasted) was faster than not speculating in 12 of 16
    such comparisons (median -5%). ``_speculate`` weighs gain and waste from this
    polish's own record.
    """

    def __init__(self, spec: EstimationSpec, ev: Evaluator, lo: np.ndarray, hi: np.ndarray,
                 steps: np.ndarray):
        self.spec, self.ev, self.lo, self.hi, self.steps = spec, ev, lo, hi, steps
        self.nfev = self.njev = self.speculative = self.used = 0
        self.moves = self.accepted = 0  # steps (residuals after the first) and accepted ones
        self.asked = False  # the Jacobian was asked at the last residual's point
        self.cost_start = np.nan
        self.ahead: tuple[bytes, Any] | None = None  # (z, Jacobian or error) speculated
        self.solve_times: list[float] = []
        self.trips = [ev.round_trip()]  # a ping until single evaluations are timed

    def resid(self, z: np.ndarray) -> np.ndarray:
        if self.nfev > 1:  # the last residual was a step: accepted iff J was asked there
            self.moves += 1
            self.accepted += self.asked
        self.asked, self.ahead = False, None
        self.nfev += 1
        x = from_z(self.spec.parameters, z)
        if self._speculate():
            points = difference_points(z, self.steps, self.lo, self.hi)
            rows = self.ev.evaluate_many([x] + [from_z(self.spec.parameters, p) for p in points],
                                         own=1, ordered=True)
            self.speculative += len(points)
            self.ahead = (np.asarray(z, dtype=float).tobytes(), self._jacobian(rows[1:], points))
        else:
            t0 = time.perf_counter()
            rows = [self.ev.evaluate(x)]
            self.trips.append(time.perf_counter() - t0 - float(rows[0].t_eval or 0.0))
        self.solve_times += [float(r.t_eval) for r in rows if r.t_eval]
        f = _weighted(self.spec, rows[0])
        if self.nfev == 1:
            self.cost_start = 0.5 * float(f @ f)
        return f

    def _speculate(self) -> bool:
        """Whether the Jacobian's points go with this residual: when that saves time on average.

        At the first point they always do (least squares asks for the Jacobian there).
        Later the step is accepted with probability q, estimated by (accepted + 1) /
        (steps + 2) over this polish; speculating then saves a round trip (median over
        this polish's single evaluations of wall minus solve time; a ping before the
        first) and wastes ceil((2p + 1) / n) - 1 median solve times on n actors when
        the step is rejected; so speculate iff q round trip > (1 - q) extra. With solves
        much longer than a round trip that is the first point only; with solves of a
        few round trips, after a run of accepted steps.
        """
        if self.nfev == 1:
            return True
        q = (self.accepted + 1) / (self.moves + 2)
        extra = (-(-(2 * len(self.steps) + 1) // len(self.ev)) - 1) \
            * float(np.median(self.solve_times))
        return q * float(np.median(self.trips)) > (1.0 - q) * extra

    def jac(self, z: np.ndarray) -> np.ndarray:
        self.njev += 1
        self.asked = True
        key = np.asarray(z, dtype=float).tobytes()
        if self.ahead is not None and self.ahead[0] == key:
            J, self.ahead = self.ahead[1], None
            self.used += 2 * len(z)
        else:
            points = difference_points(z, self.steps, self.lo, self.hi)
            rows = self.ev.evaluate_many([from_z(self.spec.parameters, p) for p in points])
            self.solve_times += [float(r.t_eval) for r in rows if r.t_eval]
            J = self._jacobian(rows, points)
        if isinstance(J, SolverConvergenceError):
            raise J
        return J

    def _jacobian(self, rows: list[Evaluation], points: list[np.ndarray]) -> Any:
        """The Jacobian from the points' rows, or the error of a failed one (raised if used)."""
        try:
            return differences(np.array([_weighted(self.spec, r) for r in rows]), points)
        except SolverConvergenceError as e:
            return e


def _polish_step(spec: EstimationSpec) -> float:
    """Finite-difference step of the polish, relative to each parameter's search width.

    Analytic moments are smooth to solver tolerance (~1e-10), so 1e-5 of the width
    balances truncation and noise. Simulated moments with common random numbers are
    smooth only at the scale where households cross asset nodes and policy kinks, so
    a step that small measures the jagged part and stalls least squares; they take
    1e-3 of the width. (The inference Jacobian takes 3e-2, ``jacobian_steps``: it
    must also see the households that switch nodes, which least squares on the
    common-random-number objective does not need; not measured for the polish.)
    """
    return 1e-5 if spec.simulation is None else 1e-3


def _weighted(spec: EstimationSpec, evaluation: Evaluation) -> np.ndarray:
    if not evaluation.ok:
        raise SolverConvergenceError(f"solve failed during the polish: {evaluation.error}")
    return spec.objective.weighted(evaluation.moments)


def run_inference(spec: EstimationSpec, ev: Evaluator, x: np.ndarray,
                  moments: dict[str, float]) -> Inference:
    """Jacobian (in natural units), Omega (given, or simulated at x) and the sandwich."""
    lower = np.array([p.lower for p in spec.parameters])
    upper = np.array([p.upper for p in spec.parameters])
    sim = spec.simulation

    def many(xs):
        rows = ev.evaluate_many(xs)
        bad = [r.error for r in rows if not r.ok]
        if bad:
            raise SolverConvergenceError(f"solve failed in the Jacobian: {bad[0]}")
        return np.array([spec.objective.gap(r.moments) for r in rows])

    ev.phase = "jacobian"
    G = central_jacobian(many, x, jacobian_steps(lower, upper, sim is not None), lower, upper)
    omega = spec.covariance
    if omega is None and sim is not None:
        ev.phase = "omega"
        omega = _simulated_omega(spec, ev, x)
    g = spec.objective.gap(moments)
    return infer(spec.names, x, g, G, spec.objective.W, omega, spec.effective_simulations(),
                 upper - lower)


def _simulated_omega(spec: EstimationSpec, ev: Evaluator, x: np.ndarray) -> np.ndarray:
    """Omega of the data moments from independent panels of the simulated size.

    Their covariance is rescaled to the data panel's size by n_sim / n_data
    (observations, ``EstimationSpec.data_to_simulated``; statistics are averages
    over households and periods); without a data panel the data is taken to have
    one simulated panel's size.
    """
    seeds = [_OMEGA_SEED + s for s in range(OMEGA_REPLICATES)]
    values = ev.replicates(x, seeds)
    order = statistic_names(spec.simulation.statistics, spec.model)
    idx = [order.index(n) for n in spec.objective.names]
    return np.atleast_2d(np.cov(values[:, idx], rowvar=False)) / spec.data_to_simulated()
