"""The ``targets`` section of an estimation spec: names, data values, W and Omega.

Data values come from exactly one place:

- inline: ``moments: {name: value, ...}``;
- ``data: {params: {...}, seed: N}``: the model's own moments at those params
  (synthetic data; simulated with seed N when moments are simulated);
- ``panel: {path, covariance, n_bootstrap, seed}`` (or ``panel: PATH``): a household
  panel file (schema in :mod:`hetspace.estimation.data`), summarised by
  ``simulation.statistics``, the function applied to the simulated panels; with
  ``covariance: bootstrap`` (the default) Omega is the household-cluster
  bootstrap covariance of those statistics (``n_bootstrap`` = 500 resamples
  drawn with ``seed`` = 0), so ``weighting: optimal`` or ``diagonal`` needs no
  hand-typed matrix; ``covariance: none`` leaves Omega to ``targets.covariance``
  or to the driver;
- ``spatial: {dataset | directory | trade, migration, locations}``: observed
  spatial data (the model's ``ModelSpec.observed`` hook: for ``incomplete_markets``,
  :mod:`hetspace.core.incomplete_markets.observed`), whose location moments
  the model's analytic moments provide through the same function.

With data, panel or spatial, ``moments`` is a list of names. Paths are relative
to the spec's folder.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from hetspace.core.config import did_you_mean
from hetspace.core.errors import DataSourceError, HetspaceError, InvalidParamsError

from .data import DEFAULT_BOOTSTRAP, PanelError, bootstrap_covariance, data_statistics, read_panel
from .objective import (
    MODEL_STATISTICS,
    STATISTICS,
    Objective,
    PanelArrays,
    model_moments,
    statistic_names,
)

logger = logging.getLogger(__name__)

KEYS = ("moments", "weighting", "covariance", "matrix", "data", "panel", "spatial")
SOURCES = ("data", "panel", "spatial")
WEIGHTINGS = ("identity", "diagonal", "optimal", "matrix")
PANEL_KEYS = ("path", "covariance", "n_bootstrap", "seed")
_PANEL = ("targets", "panel")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PanelSource:
    """A data panel read for the targets, with how to estimate its statistics' covariance."""

    path: Path
    panel: PanelArrays
    bootstrap: bool
    n_bootstrap: int
    seed: int

    @property
    def shape(self) -> tuple[int, int]:
        """(n_periods, n_households)."""
        return self.panel.consumption.shape


def read_panel_source(body: dict, sim_body: dict, sim_given: bool, base_dir: Path,
                      problems) -> PanelSource | None:
    """The ``targets.panel`` file, read and checked against its schema (None if absent or bad)."""
    if "panel" not in body:
        return None
    before = len(problems.lines)
    entry = body["panel"]
    entry = {"path": entry} if isinstance(entry, str) else entry
    if not isinstance(entry, Mapping) or not isinstance(entry.get("path"), str):
        problems.add(_PANEL, "must be a file path or a mapping {path, covariance, n_bootstrap, "
                     f"seed}}, got {entry!r}")
        return None
    for key in entry:
        if key not in PANEL_KEYS:
            problems.add((*_PANEL, key), f"unknown key; allowed: {', '.join(PANEL_KEYS)}")
    kind = entry.get("covariance", "bootstrap")
    if kind not in ("bootstrap", "none"):
        problems.add((*_PANEL, "covariance"), f"must be bootstrap or none, got {kind!r}")
    for key, lo in (("n_bootstrap", 10), ("seed", 0)):
        v = entry.get(key, lo)
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            problems.add((*_PANEL, key), f"must be an integer >= {lo}, got {v!r}")
    if not sim_given:
        problems.add(_PANEL, "needs a simulation section: the data statistics are "
                     "simulation.statistics applied to this panel, and the model's are the same "
                     "function applied to simulated panels")
    statistics = sim_body.get("statistics", "panel_moments")
    if statistics == MODEL_STATISTICS:
        problems.add(_PANEL, "a data panel is summarised by a panel statistics function "
                     f"({', '.join(STATISTICS)}), not by statistics: {MODEL_STATISTICS} (the "
                     "model's own simulation); choose one in simulation.statistics")
        return None
    if len(problems.lines) > before or statistics not in STATISTICS:
        return None  # (an unknown statistics name is reported with the simulation section)
    path = base_dir / entry["path"]
    try:
        panel = read_panel(path, statistics)
    except PanelError as e:
        for p in e.problems:
            problems.add((*_PANEL, "path"), f"{e.source}: {p}")
        return None
    return PanelSource(path=path, panel=panel, bootstrap=kind == "bootstrap",
                       n_bootstrap=entry.get("n_bootstrap", DEFAULT_BOOTSTRAP),
                       seed=entry.get("seed", 0))


def parse_targets(body: dict, model, params, numerics, sim, panel: PanelSource | None,
                  base_dir: Path, problems):
    """(Objective, Omega or None); every target checked against the baseline's moments."""
    if "spatial" in body and sim is not None:
        problems.add(("targets", "spatial"), "location moments are analytic steady-state "
                     "moments: remove the simulation section")
        return None, None
    names, values = _target_names(body, problems)
    if not names:
        return None, None
    if not _known_names(names, model, sim, problems):  # before anything is solved
        _matrix(body, "covariance", len(names), problems)
        _weighting(body, np.eye(len(names)), len(names), problems)  # their problems too
        return None, None
    produced = _solved_moments(model, params, numerics, sim, ("baseline",), problems)
    for n in names:
        if produced is not None and n not in produced:
            problems.add(("targets", "moments", n), "is not a moment the model produces; "
                         f"available: {', '.join(sorted(produced))}")
        elif produced is not None and not math.isfinite(produced[n]):
            problems.add(("targets", "moments", n), "is not finite at the baseline "
                         f"({produced[n]}); it cannot be targeted")
    cov = _matrix(body, "covariance", len(names), problems)
    if problems.lines:
        _weighting(body, np.eye(len(names)), len(names), problems)  # its problems too
        return None, None
    if "data" in body:
        values = _synthetic_data(body["data"], names, model, params, numerics, sim, problems)
    elif panel is not None:
        values, cov = _panel_values(panel, names, sim, cov, problems)
    elif "spatial" in body:
        values = _spatial_values(body["spatial"], names, model, base_dir, problems)
    W = _weighting(body, cov, len(names), problems)
    if problems.lines:
        return None, None
    return Objective.build(names, values, W), cov


def _target_names(body: dict, problems) -> tuple[list[str], list[float]]:
    sources = [k for k in SOURCES if k in body]
    if len(sources) > 1:
        problems.add(("targets", sources[1]), f"give one source of data values; "
                     f"{' and '.join(sources)} both are")
        return [], []
    moments = body.get("moments")
    if sources:
        if isinstance(moments, list) and moments and all(isinstance(m, str) for m in moments):
            return list(moments), []
        problems.add(("targets", "moments"), f"must be a list of moment names (the values come "
                     f"from targets.{sources[0]}), got {moments!r}")
        return [], []
    if not isinstance(moments, Mapping) or not moments:
        problems.add(("targets", "moments"), "must be a mapping of moment name: data value "
                     "(or a list of names together with targets.data, targets.panel or "
                     f"targets.spatial), got {moments!r}")
        return [], []
    for n, v in moments.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            problems.add(("targets", "moments", n), f"must be a finite number, got {v!r}")
    return [str(n) for n in moments], [v for v in moments.values()]


def _known_names(names: list[str], model, sim, problems) -> bool:
    """False, with a problem for each, if some of ``names`` are not what the model's
    solution (``ModelSpec.moment_names``) or ``sim``'s statistics function produces;
    True if all are, or if the model's names are known only once it has solved."""
    if sim is not None:
        known = statistic_names(sim.statistics, model)
        what = (f"a simulated statistic of {model.name}" if sim.statistics == MODEL_STATISTICS
                else f"a statistic of {sim.statistics}")
    elif model.moment_names is not None:
        known, what = list(model.moment_names), f"a moment of {model.name}"
    else:
        return True
    unknown = [n for n in names if n not in known]
    for n in unknown:
        problems.add(("targets", "moments", n), f"is not {what}{did_you_mean(n, known)}; "
                     f"known: {', '.join(known)}")
    return not unknown


def _solved_moments(model, params, numerics, sim, path, problems) -> dict[str, float] | None:
    try:
        sol = model.solve(params, numerics=numerics)
        return model_moments(sol, sim, model)
    except HetspaceError as e:
        problems.add(path, f"the model cannot be solved there: {' '.join(str(e).split())}")
        return None


def _synthetic_data(body, names, model, params, numerics, sim, problems) -> list[float]:
    """Data moments of the model at ``data.params`` (simulated with seed ``data.seed``)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("params", {}), Mapping):
        problems.add(("targets", "data"), f"must be a mapping {{params, seed}}, got {body!r}")
        return []
    try:
        truth = params.with_(**body.get("params", {}))
    except InvalidParamsError as e:
        problems.add(("targets", "data", "params"), "; ".join(map(str, e.violations)))
        return []
    # the data are one panel of the simulated size (what the standard errors assume)
    data_sim = None if sim is None else dataclasses.replace(
        sim, seed=int(body.get("seed", sim.seed + 10_000)), n_sims=1)
    found = _solved_moments(model, truth, numerics, data_sim, ("targets", "data"), problems)
    return [] if found is None else [found[n] for n in names]


def _panel_values(source: PanelSource, names, sim, cov, problems):
    """Data statistics of the panel (the simulation's function) and their bootstrap Omega."""
    stats = data_statistics(source.panel, sim.statistics)
    bad = [n for n in names if not math.isfinite(stats[n])]
    if bad:
        problems.add((*_PANEL, "path"), f"{source.path}: statistic {bad[0]} is not finite on "
                     f"the data ({stats[bad[0]]}); check the columns it uses")
        return [], None
    if source.bootstrap:
        if cov is not None:
            problems.add(("targets", "covariance"), "is estimated from the panel (targets.panel."
                         "covariance: bootstrap); set that to none to give Omega here")
            return [], None
        boot = bootstrap_covariance(source.panel, sim.statistics, names, source.n_bootstrap,
                                    source.seed)
        cov = _check_matrix(boot, (*_PANEL, "covariance"), len(names), problems,
                            f"the bootstrap covariance of {list(names)} on {source.path}")
    _warn_sizes(source, sim)
    return [stats[n] for n in names], cov


def _warn_sizes(source: PanelSource, sim) -> None:
    T, H = source.shape
    if (sim.n_periods, sim.n_households) != (T, H):
        logger.warning("simulated panels are %d x %d (periods x households) but the data panel "
                       "%s is %d x %d; the simulation correction becomes 1 + n_data / (S n_sim)"
                       " (observations), which treats households and periods alike",
                       sim.n_periods, sim.n_households, source.path, T, H)


def _spatial_values(body, names, model, base_dir: Path, problems) -> list[float]:
    """Moments of an observed-data source, by the model's ``observed`` hook (the model's
    own moments of those names come from the same function)."""
    if model.observed is None:
        problems.add(("targets", "spatial"), f"model {model.name!r} reads no observed data "
                     "(no ModelSpec.observed hook)")
        return []
    available = model.observed_names or ()
    for n in names:
        if n not in available:
            problems.add(("targets", "moments", n), "is not a location moment spatial data "
                         f"give; available: {', '.join(available)}")
    if problems.lines:
        return []
    try:
        found = model.observed(body, base_dir)
    except DataSourceError as e:
        problems.add(("targets", "spatial", *([e.key] if e.key else [])), e.text)
        return []
    return [found[n] for n in names]


def _matrix(body: dict, key: str, k: int, problems) -> np.ndarray | None:
    if key not in body:
        return None
    raw = body[key]
    try:
        m = np.asarray(raw, dtype=float)
    except (TypeError, ValueError):
        rows = raw if isinstance(raw, list) else []
        lengths = [len(r) if isinstance(r, list) else None for r in rows]
        why = (f"its rows have different lengths {lengths}" if rows and None not in lengths
               else f"got {raw!r:.80}")
        problems.add(("targets", key), f"must be a {k} x {k} matrix of numbers (one row per "
                     f"target); {why}")
        return None
    return _check_matrix(m, ("targets", key), k, problems)


def _check_matrix(m: np.ndarray, path: tuple, k: int, problems,
                  what: str = "") -> np.ndarray | None:
    lead = f"{what} " if what else ""
    if m.shape != (k, k):
        problems.add(path, f"{lead}must be a finite {k} x {k} matrix (one row per target), "
                     f"got shape {m.shape}")
        return None
    if not np.all(np.isfinite(m)):
        i, j = (int(v) for v in np.argwhere(~np.isfinite(m))[0])
        problems.add(path, f"{lead}must be finite, got {m[i, j]} at [{i}, {j}]")
        return None
    if not np.allclose(m, m.T, rtol=1e-10, atol=0.0):
        problems.add(path, f"{lead}must be symmetric")
        return None
    eig = np.linalg.eigvalsh(m)
    if eig.min() <= 1e-12 * max(abs(eig.max()), 1e-300):
        problems.add(path, f"{lead}is singular or not positive definite (eigenvalues "
                     f"{np.array2string(eig, precision=3)}); W and Omega^-1 must exist")
        return None
    return m


def _weighting(body: dict, cov, k: int, problems) -> np.ndarray | None:
    kind = body.get("weighting", "identity")
    if kind not in WEIGHTINGS:
        problems.add(("targets", "weighting"), f"must be one of {', '.join(WEIGHTINGS)}, "
                     f"got {kind!r}")
        return None
    if kind == "identity":
        return np.eye(k)
    if kind == "matrix":
        if "matrix" not in body:
            problems.add(("targets", "matrix"), "is required with weighting: matrix")
        return _matrix(body, "matrix", k, problems)
    if cov is None:
        if "covariance" not in body:
            hint = " (or targets.panel.covariance: bootstrap)" if "panel" in body else ""
            problems.add(("targets", "covariance"), f"is required with weighting: {kind}{hint}")
        return None
    return np.diag(1.0 / np.diag(cov)) if kind == "diagonal" else np.linalg.inv(cov)
