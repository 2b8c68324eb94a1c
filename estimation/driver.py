"""``estimate(spec)``: global search, local polish, inference, records (DESIGN.md section 4).

1. Optuna's global search over the box (:mod:`hetspace.estimation.study`), trials on
   steady-state actors, the study in a journal file in the output folder;
2. local polish from the best trial: ``scipy.optimize.least_squares`` (trust
   region reflective, within the box, in the search coordinates z) on the
   weighted residual vector R g (R'R = W); its Jacobian by central differences
   whose 2p points run in parallel on the actors;
3. inference at the estimate (:mod:`hetspace.estimation.inference`);
4. records: tables, plots, the trial table and an MLflow parent run
   (:mod:`hetspace.estimation.report`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from optuna.trial import TrialState
from scipy.optimize import least_squares

from hetspace.core.errors import ModelEvaluationError, SolverConvergenceError
from hetspace.sweeps.actors import STATUS_OK
from hetspace.sweeps.cluster import cluster_cpus, connect

from . import report
from .evaluate import Evaluator
from .inference import Inference, central_jacobian, infer, jacobian_steps
from .objective import statistic_names
from .spec import EstimationSpec
from .study import JOURNAL, Progress, StudyExistsError, open_study, run_trials
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


def default_out_dir(spec: EstimationSpec) -> Path:
    return Path("out") / "estimation" / spec.name


def estimate(spec: EstimationSpec, out_dir: str | os.PathLike[str] | None = None, *,
             address: str | None = None, resume: bool = False, num_actors: int | None = None,
             progress: Progress | None = None, storage_url: str | None = None,
             track: bool = True) -> EstimationResult:
    """Run the estimation ``spec`` (see the module docstring); Ray is started if needed."""
    t0 = time.perf_counter()
    out = Path(out_dir if out_dir is not None else default_out_dir(spec)).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if storage_url is None and (out / JOURNAL).exists() and not resume:
        raise StudyExistsError(f"{out / JOURNAL} exists: resume it (--resume) or choose "
                               "another --out")
    started = connect(address)
    ev, tracker, status = None, None, "FAILED"
    try:
        n = num_actors or spec.num_actors or max(1, cluster_cpus() // spec.cpus_per_actor)
        study = open_study(spec, out, n, resume, storage_url)
        ev = Evaluator(spec, n)  # actors start while the tracking store opens
        tracker = report.start_tracking(spec, out) if track else None
        ev.pool.wait_ready()
        run_trials(study, spec, ev, progress)
        result = _finish(spec, out, study, ev, t0, tracker)
        status = "FINISHED"
        return result
    except KeyboardInterrupt:
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


def _finish(spec, out, study, ev, t0, tracker) -> EstimationResult:
    if not any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        raise ModelEvaluationError(f"no trial of {spec.name} completed; see the fail_reason "
                                   f"column of the trials (study in {out})")
    best = study.best_trial
    x_best = np.array(best.user_attrs["x"], dtype=float)
    ev.phase = "polish"
    x = polish(spec, ev, x_best) if spec.optimizer.polish else x_best
    ev.phase = "estimate"
    row = ev.evaluate(x)
    if row["status"] != STATUS_OK:
        raise SolverConvergenceError(f"the model cannot be solved at the estimate: {row['error']}")
    moments = {n: float(row["moments"][n]) for n in spec.objective.names}
    inference = run_inference(spec, ev, x, moments)
    est = dict(zip(spec.names, (float(v) for v in x), strict=True))
    result = EstimationResult(
        spec=spec, out_dir=out, estimates=est, objective=spec.objective.value(moments),
        best_trial_objective=float(best.value), moments=moments, inference=inference,
        n_trials=len(study.trials), solves=ev.counters.solves,
        solve_seconds=ev.counters.solve_seconds, wall_seconds=time.perf_counter() - t0,
        files=(), run_id=None, tracking_uri=None)
    files = report.write_outputs(result, study, ev.records)
    run_id, uri = (None, None) if tracker is None else report.finish_tracking(
        tracker, result, files)
    return dataclasses.replace(result, files=tuple(files), run_id=run_id, tracking_uri=uri)


def polish(spec: EstimationSpec, ev: Evaluator, x0: np.ndarray) -> np.ndarray:
    """Least squares on R g(x(z)) within the box from x0; x0 back if a solve fails."""
    lo, hi = np.array([p.z_bounds for p in spec.parameters]).T
    width = hi - lo
    z0 = np.clip(to_z(spec.parameters, x0), lo + 1e-9 * width, hi - 1e-9 * width)

    def resid(z: np.ndarray) -> np.ndarray:
        return _weighted(spec, ev.evaluate(from_z(spec.parameters, z)))

    def jac(z: np.ndarray) -> np.ndarray:
        def many(zs):
            rows = ev.evaluate_many([from_z(spec.parameters, zz) for zz in zs])
            return np.array([_weighted(spec, r) for r in rows])

        return central_jacobian(many, z, _polish_step(spec) * width, lo, hi)

    try:
        fit = least_squares(resid, z0, jac=jac, bounds=(lo, hi), x_scale=width, method="trf",
                            xtol=1e-12, ftol=1e-15, gtol=1e-15, max_nfev=40)
    except SolverConvergenceError as e:
        logger.warning("polish stopped (%s); keeping the best trial", e)
        return x0
    x = from_z(spec.parameters, fit.x)
    logger.info("polish: %s after %d evaluations, cost %.3e", fit.message, fit.nfev, fit.cost)
    return x if 2.0 * fit.cost <= _q(spec, ev, x0) else x0


def _polish_step(spec: EstimationSpec) -> float:
    """Finite-difference step of the polish, relative to each parameter's search width.

    Analytic moments are smooth to solver tolerance (~1e-10), so 1e-5 of the width
    balances truncation and noise. Simulated moments with common random numbers are
    smooth only at the scale where households cross asset nodes and policy kinks, so
    a step that small measures the jagged part and stalls least squares; they take
    1e-3 of the width, the step of the inference Jacobian (``jacobian_steps``).
    """
    return 1e-5 if spec.simulation is None else 1e-3


def _weighted(spec: EstimationSpec, row: dict[str, Any]) -> np.ndarray:
    if row["status"] != STATUS_OK:
        raise SolverConvergenceError(f"solve failed during the polish: {row['error']}")
    return spec.objective.weighted(row["moments"])


def _q(spec: EstimationSpec, ev: Evaluator, x: np.ndarray) -> float:
    row = ev.evaluate(x)
    return spec.objective.value(row["moments"]) if row["status"] == STATUS_OK else np.inf


def run_inference(spec: EstimationSpec, ev: Evaluator, x: np.ndarray,
                  moments: dict[str, float]) -> Inference:
    """Jacobian (in natural units), Omega (given, or simulated at x) and the sandwich."""
    lower = np.array([p.lower for p in spec.parameters])
    upper = np.array([p.upper for p in spec.parameters])
    sim = spec.simulation

    def many(xs):
        rows = ev.evaluate_many(xs)
        bad = [r["error"] for r in rows if r["status"] != STATUS_OK]
        if bad:
            raise SolverConvergenceError(f"solve failed in the Jacobian: {bad[0]}")
        return np.array([spec.objective.gap(r["moments"]) for r in rows])

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
    order = statistic_names(spec.simulation.statistics)
    idx = [order.index(n) for n in spec.objective.names]
    return np.atleast_2d(np.cov(values[:, idx], rowvar=False)) / spec.data_to_simulated()
