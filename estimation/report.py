"""Records of an estimation: tables, plots, the trial table, the MLflow parent run.

Files in the output folder: ``estimates.{md,tex,csv}`` (estimate, standard
error, 95% interval per parameter), ``moment_fit.{md,tex,csv}`` (data, model,
gap per target), ``trials.csv`` (one row per Optuna trial: state, objective,
parameters, targeted moments, failure reason), ``evaluations.csv`` (one row
per model evaluation of this run, in order: phase (trial, polish, estimate,
jacobian, omega), parameters, status, objective, actor solve seconds t_eval, the
actor, batch (a finite-difference point rather than an evaluation in its own right),
wall-clock sent/started/received times, error), ``inference.json`` (G, V,
sensitivity matrix, condition number, J-test, and under ``polish`` what the
least-squares polish did: ``least_squares``' status and message, residual and
Jacobian evaluations, cost at its start and end, first-order optimality,
parameters at a bound, whether its result or the best trial was kept, solves;
see :class:`~hetspace.estimation.driver.PolishRecord`), ``plots/objective_history.png``,
``plots/moment_fit.png``, ``plots/sensitivity.png`` and ``spec.yaml``.
MLflow (the sweeps' tracker: SQLite store in the output folder by default,
driver-only logging) gets one parent run per estimation with these files, the
Optuna journal as artifacts and the estimates as metrics.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from hetspace.core.config import atomic_write
from hetspace.core.protocol import to_plain
from hetspace.sweeps.tracking import KIND_TAG, SweepTracker, environment_info

from .study import JOURNAL

logger = logging.getLogger(__name__)

#: Numbers of the polish record logged as MLflow metrics (``polish_<name>``).
POLISH_METRICS = ("status", "nfev", "njev", "cost_start", "cost_end", "optimality", "solves",
                  "wasted")


def start_tracking(spec: Any, out: Path) -> SweepTracker:
    """Open the parent run (tagged hetspace.kind = estimation)."""
    tracker = SweepTracker(name=spec.name, experiment=spec.experiment or spec.name, out_dir=out,
                           tracking_uri=spec.tracking_uri)
    params = {"model": spec.model.name, "method": spec.method,
              "free_parameters": list(spec.names), "targets": list(spec.objective.names),
              "sampler": spec.optimizer.sampler, "n_trials": spec.optimizer.n_trials,
              "polish": spec.optimizer.polish, "simulated": spec.simulation is not None,
              "seed": spec.seed}
    tracker.start(params)
    tracker.client.set_tag(tracker.run_id, KIND_TAG, "estimation")
    return tracker


def finish_tracking(tracker: SweepTracker, result: Any, files: list[Path]) -> tuple[str, str]:
    inf = result.inference
    metrics = {"objective": result.objective, "best_trial_objective": result.best_trial_objective,
               "solves": result.solves, "solve_seconds": result.solve_seconds,
               "wall_seconds": result.wall_seconds, "condition_number":
               inf.identification.condition}
    for n, v, s in zip(inf.names, inf.estimates, inf.se, strict=True):
        metrics[f"est_{n}"] = float(v)
        metrics[f"se_{n}"] = float(s)
    if np.isfinite(inf.J):
        metrics.update(J=inf.J, J_p_value=inf.p_value)
    polish = result.polish
    if polish is not None:
        metrics.update({f"polish_{k}": float(getattr(polish, k)) for k in POLISH_METRICS
                        if getattr(polish, k) is not None and np.isfinite(getattr(polish, k))})
        tracker.client.set_tag(tracker.run_id, "polish_kept", polish.kept)
        tracker.client.set_tag(tracker.run_id, "polish_message", polish.message[:500])
    journal = result.out_dir / JOURNAL
    tracker.finish("FINISHED", metrics, [*files, journal])
    return tracker.run_id, tracker.uri


def write_outputs(result: Any, study: Any, evaluations: list[dict] | None = None) -> list[Path]:
    """Write every file listed in the module docstring; their paths."""
    out = result.out_dir
    files = [_write(out / "spec.yaml", yaml.safe_dump(to_plain(dict(result.spec.raw)),
                                                      sort_keys=False))]
    trials = trial_table(study, result.spec)
    files.append(_write(out / "trials.csv", trials.to_csv(index=False)))
    if evaluations is not None:
        files.append(_write(out / "evaluations.csv",
                            pd.DataFrame(evaluations).to_csv(index=False)))
    for stem, table in (("estimates", estimates_table(result)), ("moment_fit", fit_table(result))):
        files.append(_write(out / f"{stem}.md", markdown(table)))
        files.append(_write(out / f"{stem}.tex", table.to_latex(index=False, float_format="%.6g")))
        files.append(_write(out / f"{stem}.csv", table.to_csv(index=False)))
    files.append(_write(out / "inference.json", json.dumps(_inference_dict(result), indent=2)))
    files.append(_write(out / "environment.json", json.dumps(environment_info(), indent=2)))
    try:
        files += plot_all(result, trials, out / "plots")
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        logger.warning("matplotlib unavailable; no plots")
    return files


def trial_table(study: Any, spec: Any) -> pd.DataFrame:
    """One row per trial: number, state, objective, natural parameters, moments, reasons."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        row = {"number": t.number, "state": t.state.name, "objective": t.value,
               **{n: v for n, v in zip(spec.names, t.user_attrs.get("x", []), strict=False)},
               **{f"m_{k}": v for k, v in t.user_attrs.get("moments", {}).items()},
               "t_eval": t.user_attrs.get("t_eval"),
               "fail_reason": t.user_attrs.get("fail_reason"),
               "abandoned": t.user_attrs.get("abandoned")}
        rows.append(row)
    return pd.DataFrame(rows)


def estimates_table(result: Any) -> pd.DataFrame:
    inf = result.inference
    return pd.DataFrame({"parameter": inf.names, "estimate": inf.estimates, "se": inf.se,
                         "ci_low": inf.ci_low, "ci_high": inf.ci_high,
                         "identification_strength": inf.identification.strength})


def fit_table(result: Any) -> pd.DataFrame:
    obj = result.spec.objective
    model = np.array([result.moments[n] for n in obj.names])
    return pd.DataFrame({"moment": obj.names, "data": obj.data, "model": model,
                         "gap": model - obj.data, "weight": np.diag(obj.W)})


def plot_all(result: Any, trials: pd.DataFrame, folder: Path) -> list[Path]:
    """Objective history, moment fit and sensitivity heat map as PNG files in ``folder``."""
    # Figure objects, not pyplot: the caller's backend (a notebook's inline one) is untouched
    from matplotlib.figure import Figure

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, draw in (("objective_history", _plot_history), ("moment_fit", _plot_fit),
                       ("sensitivity", _plot_sensitivity)):
        fig = Figure(figsize=(6, 4))
        draw(fig.subplots(), result, trials)
        paths.append(_save(fig, folder / f"{name}.png"))
    return paths


def _plot_history(ax: Any, result: Any, trials: pd.DataFrame) -> None:
    done = trials[trials["state"] == "COMPLETE"].sort_values("number")
    if len(done):
        q = done["objective"].astype(float).clip(lower=1e-300)
        ax.semilogy(done["number"], q, ".", label="trial")
        ax.semilogy(done["number"], q.cummin(), "-", label="best so far")
    ax.axhline(max(result.objective, 1e-300), color="k", ls="--", label="after polish")
    ax.set(xlabel="trial", ylabel="Q(theta)", title="objective history")
    ax.legend()


def _plot_fit(ax: Any, result: Any, trials: pd.DataFrame) -> None:
    fit = fit_table(result)
    pos = np.arange(len(fit))
    ax.bar(pos - 0.2, fit["data"], 0.4, label="data")
    ax.bar(pos + 0.2, fit["model"], 0.4, label="model")
    ax.set_xticks(pos, fit["moment"], rotation=30, ha="right")
    ax.set(title="moment fit")
    ax.legend()


def _plot_sensitivity(ax: Any, result: Any, trials: pd.DataFrame) -> None:
    inf = result.inference
    im = ax.imshow(inf.identification.sensitivity, cmap="RdBu_r", aspect="auto")
    ax.set_yticks(range(len(inf.names)), inf.names)
    ax.set_xticks(range(len(result.spec.objective.names)), result.spec.objective.names,
                  rotation=30, ha="right")
    ax.set(title="sensitivity d estimate / d moment")
    ax.figure.colorbar(im, ax=ax)


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def _inference_dict(result: Any) -> dict[str, Any]:
    inf = result.inference
    ident = inf.identification
    polish = None if result.polish is None else dataclasses.asdict(result.polish)
    return _finite({"estimates": dict(result.estimates), "objective": result.objective,
                    "se": inf.se, "G": inf.G, "V": inf.V, "J": inf.J, "df": inf.df,
                    "p_value": inf.p_value, "sensitivity": ident.sensitivity,
                    "condition_number": ident.condition, "strength": ident.strength,
                    "weakly_identified": list(ident.weak), "solves": result.solves,
                    "solve_seconds": result.solve_seconds, "wall_seconds": result.wall_seconds,
                    "polish": polish})


def _finite(value: Any) -> Any:
    value = to_plain(value)
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _write(path: Path, text: str) -> Path:
    return atomic_write(path, lambda fh: fh.write(text.encode()))


def markdown(table: pd.DataFrame) -> str:
    """A pipe table (numbers to 6 significant digits)."""
    def cell(v: Any) -> str:
        return f"{v:.6g}" if isinstance(v, (float, np.floating)) else str(v)

    lines = ["| " + " | ".join(map(str, table.columns)) + " |",
             "|" + "|".join("---" for _ in table.columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(False)]
    return "\n".join(lines) + "\n"
