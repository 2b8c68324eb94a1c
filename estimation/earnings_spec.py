"""Earnings-process specs: the GMM of ``earnings_process`` from the command line.

``hetspace estimate SPEC.yaml`` runs a spec with ``kind: earnings_process`` in this
process (no model is solved, so no Ray actors and no Optuna study): the GMM of
(s_xi^2, rho, s_eta^2 in booms and recessions, s_v^2) on the autocovariances of a
household earnings panel (Huggett and Kaplan 2015, papers/004, section 3.1;
:mod:`hetspace.estimation.earnings_process`)::

    kind: earnings_process
    name: earnings_process_recovery
    description: ...
    data:                                  # exactly one of simulated or panel
      simulated:                           # a panel simulated from a known process
        process: {sample: full}            # Table 1's column (full, college, high_school),
                                           # with any field overridden, or all of s_xi2,
                                           # rho, s_eta2_boom, s_eta2_recession, s_v2
                                           # (mu3_eta_boom, mu3_eta_recession, mu3_v: 0)
        n_households: 6000
        n_years: 20                        # years observed
        seed: 7
        work_years: 39                     # years a household works (ages 22-60)
        p_boom: 0.5                        # probability of a boom year (iid)
      # panel: data/earnings.csv           # a user's panel (columns household, year, u,
      # regimes: data/regimes.csv          # entry_year) and regimes (year, boom), CSV or
                                           # Parquet, relative to this file
    gmm:
      max_lag: 5                           # autocovariances at lags 0..max_lag
      min_count: 30                        # households per (year, lag, age) cell
      start: {rho: 0.9}                    # first guess (the rest: the estimator's)

The output folder (default ``out/estimation/<name>``) gets ``estimates.md``,
``estimates.csv`` (estimate and standard error of each parameter, and with a simulated
panel the true value and the z-score) and ``estimates.json`` (those, the number of
moments, the objective, whether least squares converged, and the spec).

Problems are raised together as one ``InvalidConfigError`` naming paths in the file
(``line 7: estimation.data.simulated.n_households: ...``), as for other estimation specs.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hetspace.core.config import atomic_write
from hetspace.core.errors import InvalidParamsError
from hetspace.core.human_capital.benchmark import TABLE_1
from hetspace.sweeps.spec import Problems, check_keys, spec_name, spec_section

from .data import PanelError
from .earnings_process import (
    DEFAULT_START,
    NAMES,
    EarningsGMM,
    EarningsPanel,
    EarningsProcess,
    estimate_earnings_process,
    read_earnings_panel,
    simulate_earnings_panel,
)
from .report import markdown

KIND = "earnings_process"
TOP_LEVEL_KEYS = ("kind", "name", "description", "data", "gmm")
_SECTIONS = {"data": ("simulated", "panel", "regimes"),
             "gmm": ("max_lag", "min_count", "start")}
_SIMULATED = ("process", "n_households", "n_years", "seed", "work_years", "p_boom")
_FIELDS = tuple(f.name for f in dataclasses.fields(EarningsProcess))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EarningsSpec:
    """A validated earnings-process spec: the panel (read or simulated when the spec is
    built), the true process of a simulated panel (None for a user's panel), the GMM
    settings and the first guess (None: the estimator's)."""

    name: str
    description: str
    panel: EarningsPanel
    truth: EarningsProcess | None
    max_lag: int
    min_count: int
    start: EarningsProcess | None
    raw: Mapping[str, Any]
    source: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EarningsRun:
    """What ``run_earnings_spec`` found and wrote: the GMM, its table, the files."""

    spec: EarningsSpec
    gmm: EarningsGMM
    table: pd.DataFrame
    out_dir: Path
    files: tuple[Path, ...]


def build_earnings_spec(data: dict, base_dir: Path, source: str,
                        problems: Problems) -> EarningsSpec:
    """Validate ``data`` (a spec mapping with ``kind: earnings_process``) and read or
    simulate its panel; ``InvalidConfigError`` lists every problem."""
    check_keys(data, TOP_LEVEL_KEYS, (), problems)
    name = spec_name(data, problems)
    if "data" not in data:
        problems.add(("data",), "is required: simulated (a panel from a known process) or "
                     "panel and regimes (files)")
    sec = {k: spec_section(data, k, problems, _SECTIONS) for k in _SECTIONS}
    gmm = sec["gmm"]
    max_lag = _int(gmm, "max_lag", 5, 0, problems)
    min_count = _int(gmm, "min_count", 30, 2, problems)
    start = None
    if gmm.get("start") is not None:
        start = _process(gmm["start"], ("gmm", "start"), problems, DEFAULT_START)
    panel, truth = _data(sec["data"], base_dir, problems) if sec["data"] else (None, None)
    problems.raise_if_any(source)
    return EarningsSpec(name=name, description=str(data.get("description") or ""),
                        panel=panel, truth=truth, max_lag=max_lag, min_count=min_count,
                        start=start, raw=dict(data), source=source)


def run_earnings_spec(spec: EarningsSpec, out_dir: str | os.PathLike[str]) -> EarningsRun:
    """The GMM of ``spec``'s panel, and its outputs written (atomically) into ``out_dir``.

    ``SolverConvergenceError`` if no (year, lag, age) cell has ``min_count`` households."""
    out = Path(out_dir)
    gmm = estimate_earnings_process(spec.panel, spec.max_lag, spec.min_count, spec.start)
    table = estimates_table(gmm, spec.truth)
    summary = {"name": spec.name, "kind": KIND, "estimates": gmm.estimates, "se": gmm.se,
               "truth": None if spec.truth is None else spec.truth.to_dict(),
               "n_moments": gmm.n_moments, "objective": gmm.objective,
               "converged": gmm.converged,
               "panel": {"households": int(spec.panel.u.shape[0]),
                         "years": int(spec.panel.u.shape[1]),
                         "observations": int(np.isfinite(spec.panel.u).sum())},
               "spec": spec.raw}
    files = (_write(out / "estimates.md", markdown(table)),
             _write(out / "estimates.csv", table.to_csv(index=False)),
             _write(out / "estimates.json", json.dumps(_finite(summary), indent=2)))
    return EarningsRun(spec=spec, gmm=gmm, table=table, out_dir=out, files=files)


def estimates_table(gmm: EarningsGMM, truth: EarningsProcess | None) -> pd.DataFrame:
    """One row per parameter: estimate, se, and with a known truth, true and z."""
    table = pd.DataFrame({"parameter": list(NAMES),
                          "estimate": [gmm.estimates[n] for n in NAMES],
                          "se": [gmm.se[n] for n in NAMES]})
    if truth is not None:
        table["true"] = [float(getattr(truth, n)) for n in NAMES]
        table["z"] = (table["estimate"] - table["true"]) / table["se"]
    return table


def _data(body: dict, base_dir: Path, problems: Problems):
    """(panel, truth) from the data section (None, None if it has problems)."""
    files = [k for k in ("panel", "regimes") if k in body]
    if ("simulated" in body) == bool(files):
        problems.add(("data",), "needs exactly one of simulated (a panel from a known "
                     "process) or panel and regimes (files)")
        return None, None
    if files:
        return _files(body, base_dir, problems), None
    sim = body["simulated"]
    if not isinstance(sim, Mapping):
        problems.add(("data", "simulated"), f"must be a mapping, got {sim!r}")
        return None, None
    check_keys(sim, _SIMULATED, ("data", "simulated"), problems)
    where = ("data", "simulated")
    if "process" not in sim:
        problems.add((*where, "process"), "is required: {sample: full} (Table 1) or the "
                     f"values of {', '.join(NAMES)}")
        truth = None
    else:
        truth = _process(sim["process"], (*where, "process"), problems, None)
    sizes = {"n_households": _int(sim, "n_households", None, 2, problems, where),
             "n_years": _int(sim, "n_years", None, 2, problems, where),
             "seed": _int(sim, "seed", 0, 0, problems, where),
             "work_years": _int(sim, "work_years", 39, 1, problems, where)}
    p_boom = sim.get("p_boom", 0.5)
    if isinstance(p_boom, bool) or not isinstance(p_boom, (int, float)) \
            or not 0.0 < p_boom < 1.0:
        problems.add((*where, "p_boom"), f"must be a probability in (0, 1), got {p_boom!r}")
    if truth is None or problems.lines:
        return None, None
    panel = simulate_earnings_panel(truth, sizes["n_households"], sizes["n_years"],
                                    sizes["seed"], sizes["work_years"], float(p_boom))
    return panel, truth


def _files(body: dict, base_dir: Path, problems: Problems) -> EarningsPanel | None:
    for key in ("panel", "regimes"):
        if not isinstance(body.get(key), str):
            problems.add(("data", key), f"must be a file path (CSV or Parquet), got "
                         f"{body.get(key)!r}" + ("" if key in body else
                                                 ": panel and regimes go together"))
    if problems.lines:
        return None
    try:
        return read_earnings_panel(base_dir / body["panel"], base_dir / body["regimes"])
    except InvalidParamsError as e:  # a panel whose shape is wrong once assembled
        for v in e.violations:
            problems.add(("data", "panel"), str(v))
    except PanelError as e:  # names the file and each problem in it
        key = "panel" if Path(e.source) == base_dir / body["panel"] else "regimes"
        for p in e.problems:
            problems.add(("data", key), f"{e.source}: {p}")
    return None


def _process(body, path: tuple, problems: Problems,
             base: EarningsProcess | None) -> EarningsProcess | None:
    """An EarningsProcess from ``{sample: ..., field: value, ...}`` (fields over Table 1's
    sample, or over ``base``, or all given)."""
    if not isinstance(body, Mapping):
        problems.add(path, f"must be a mapping of {', '.join(NAMES)} (or sample), got {body!r}")
        return None
    check_keys(body, ("sample", *_FIELDS), path, problems)
    values = dict(body)
    if "sample" in values:
        sample = values.pop("sample")
        if sample not in TABLE_1:
            problems.add((*path, "sample"), f"must be one of {', '.join(TABLE_1)}, "
                         f"got {sample!r}")
            return None
        base = EarningsProcess.from_table_1(sample)
    values = {k: v for k, v in values.items() if k in _FIELDS}
    missing = [n for n in NAMES if n not in values]
    if base is None and missing:
        problems.add(path, f"needs sample (a column of Table 1) or all of {', '.join(NAMES)}; "
                     f"missing {', '.join(missing)}")
        return None
    try:
        return base.with_(**values) if base is not None else EarningsProcess(**values)
    except InvalidParamsError as e:
        for v in e.violations:
            problems.add((*path, v.field), str(v)[len(v.field) + 2:])
    return None


def _int(body: Mapping, key: str, default: int | None, lo: int, problems: Problems,
         where: tuple = ("gmm",)) -> int | None:
    value = body.get(key, default)
    if value is None:
        problems.add((*where, key), f"is required (an integer >= {lo})")
    elif isinstance(value, bool) or not isinstance(value, int) or value < lo:
        problems.add((*where, key), f"must be an integer >= {lo}, got {value!r}")
        return None
    return value


def _write(path: Path, text: str) -> Path:
    return atomic_write(path, lambda fh: fh.write(text.encode()))


def _finite(value: Any) -> Any:
    """Plain JSON values: numpy scalars as Python ones, NaN and inf as null (strict JSON)."""
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
