"""The estimation objective Q(theta) = g' W g, g = m(theta) - m_data, and the moments m.

Moments come either from the solved steady state (``Solution.moments()``,
"analytic": exact up to solver tolerance) or from simulated panels (the model's
``ModelSpec.panel`` hook: ``incomplete_markets.panel_arrays`` for the workhorse)
summarised by a statistics function. Simulated panels use
common random numbers: replicate s of every evaluation draws with seed
``seed + s``, so two evaluations differ only through theta. (The workhorse
simulates on its asset grid with Young's lottery, so a simulated moment is a
step function of theta with steps of order 1 / (households x periods); with
thousands of household-periods they are far below the finite-difference
steps of :mod:`hetspace.estimation.inference`.)

A statistics function maps a panel (:class:`~hetspace.core.panel.PanelArrays`: consumption, income,
assets, axes (periods, households)) to named statistics, and is applied
identically to data panels and simulated ones: with ``panel_moments`` this is
SMM on cross-sectional moments, with ``ar1_log_consumption`` or
``consumption_insurance`` (auxiliary regressions) indirect inference. A data
panel read from a file (:mod:`hetspace.estimation.data`) is a ``PanelArrays``
too, so data and model statistics come from the same call; ``STATISTIC_COLUMNS``
says which panel columns each function reads.

A model that simulates itself (``ModelSpec.simulate``, e.g. ``hadsge``) is estimated
with ``statistics: model`` (``MODEL_STATISTICS``): each replicate is the model's own
statistics of one sample of ``n_households`` agents drawn with seed ``seed + s``
(the model sets the periods; no data panel is read for them).

Analytic moments are ``Solution.moments()``, whose location-level entries
(``LOCATION_MOMENTS``: population shares, out-migration, dispersion of real wages
and consumption) come from :func:`~hetspace.core.incomplete_markets.moments.location_moments`,
the function that also computes them from ``SpatialData`` targets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from hetspace.core.panel import PanelArrays
from hetspace.core.protocol import ModelSpec


def _ols(y: np.ndarray, x: np.ndarray) -> tuple[float, float, float]:
    """Pooled OLS of y on (1, x): intercept, slope, residual s.d."""
    X = np.column_stack([np.ones_like(x), x])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    return float(coef[0]), float(coef[1]), float(np.std(resid, ddof=2))


def panel_moments(panel: PanelArrays) -> dict[str, float]:
    """Cross-sectional moments pooled over periods (the SMM statistics)."""
    logc = np.log(panel.consumption)
    return {"consumption_mean": float(panel.consumption.mean()),
            "consumption_log_sd": float(logc.std()),
            "assets_mean": float(panel.assets.mean()),
            "assets_sd": float(panel.assets.std()),
            "share_at_limit": float(panel.at_limit.mean())}


def ar1_log_consumption(panel: PanelArrays) -> dict[str, float]:
    """Auxiliary model: log c_{t+1} = a + rho log c_t + u, pooled OLS (indirect inference)."""
    logc = np.log(panel.consumption)
    a, rho, sd = _ols(logc[1:].ravel(), logc[:-1].ravel())
    return {"c_ar1_const": a, "c_ar1_rho": rho, "c_ar1_resid_sd": sd}


def consumption_insurance(panel: PanelArrays) -> dict[str, float]:
    """Auxiliary model: dlog c = a + b dlog y + u (b: pass-through of income to consumption)."""
    dlc = np.diff(np.log(panel.consumption), axis=0).ravel()
    dly = np.diff(np.log(panel.income), axis=0).ravel()
    a, b, sd = _ols(dlc, dly)
    return {"insurance_const": a, "insurance_slope": b, "insurance_resid_sd": sd}


STATISTICS: Mapping[str, Callable[[PanelArrays], dict[str, float]]] = {
    "panel_moments": panel_moments,
    "ar1_log_consumption": ar1_log_consumption,
    "consumption_insurance": consumption_insurance,
}
#: The PanelArrays fields each statistics function reads (a data panel must provide them).
STATISTIC_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "panel_moments": ("consumption", "assets", "at_limit"),
    "ar1_log_consumption": ("consumption",),
    "consumption_insurance": ("consumption", "income"),
}


#: ``Simulation.statistics`` for the model's own simulated statistics (``ModelSpec.simulate``).
MODEL_STATISTICS = "model"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Simulation:
    """How simulated moments are made: ``statistics`` (a name in STATISTICS) averaged over
    ``n_sims`` replicate panels of n_households x n_periods (after dropping ``burn_in``
    periods), replicate s drawn with seed ``seed + s`` (common random numbers); or,
    with ``statistics`` = ``MODEL_STATISTICS``, the model's ``simulate(sol,
    n_households, seed + s)`` (n_periods and burn_in unused)."""

    statistics: str = "panel_moments"
    n_households: int = 1000
    n_periods: int = 20
    burn_in: int = 0
    n_sims: int = 1
    seed: int = 0


def replicate_statistics(sol: Any, sim: Simulation, seeds: Sequence[int],
                         model: ModelSpec | None = None) -> np.ndarray:
    """(len(seeds), k) statistics of one panel (or model sample) per seed; columns in
    ``statistic_names`` order. ``model``: the ModelSpec, needed for ``MODEL_STATISTICS``."""
    if sim.statistics == MODEL_STATISTICS:
        names = statistic_names(sim.statistics, model)
        rows = [model.simulate(sol, sim.n_households, int(s)) for s in seeds]
        return np.array([[float(r[n]) for n in names] for r in rows])
    fn = STATISTICS[sim.statistics]
    if model is None or model.panel is None:
        name = "no model" if model is None else f"model {model.name!r}"
        raise ValueError(f"{name} simulates no household panel (ModelSpec.panel)")
    rows = [fn(model.panel(sol, sim.n_households, sim.n_periods + sim.burn_in,
                           int(s)).after(sim.burn_in)) for s in seeds]
    return np.array([list(r.values()) for r in rows])


def statistic_names(statistics: str, model: ModelSpec | None = None) -> list[str]:
    """Names a statistics function returns, in its order (probed on a constant panel);
    for ``MODEL_STATISTICS``, the model's ``simulated_names``."""
    if statistics == MODEL_STATISTICS:
        if model is None or model.simulate is None or model.simulated_names is None:
            name = "no model" if model is None else f"model {model.name!r}"
            raise ValueError(f"{name} offers no simulation hook (ModelSpec.simulate and "
                             "simulated_names)")
        return list(model.simulated_names)
    one = np.ones((3, 2))
    probe = PanelArrays(consumption=one, income=one, assets=one, at_limit=one > 0)
    return list(STATISTICS[statistics](probe).keys())


def model_moments(sol: Any, sim: Simulation | None,
                  model: ModelSpec | None = None) -> dict[str, float]:
    """m(theta): the solution's analytic moments (``moments()``), or simulated statistics
    averaged over ``sim.n_sims`` common-random-number replicates (``model``: the
    ModelSpec, needed for ``MODEL_STATISTICS``)."""
    if sim is None:
        return {k: float(v) for k, v in sol.moments().items()}
    names = statistic_names(sim.statistics, model)
    values = replicate_statistics(sol, sim, [sim.seed + s for s in range(sim.n_sims)], model)
    return dict(zip(names, (float(v) for v in values.mean(axis=0)), strict=True))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Objective:
    """Q = g' W g for the targets ``names`` with data values ``data`` and weighting ``W``.

    ``root`` is an upper-triangular R with R'R = W (Cholesky), so the weighted
    residual vector R g has squared norm Q (what least squares minimises).
    """

    names: tuple[str, ...]
    data: np.ndarray
    W: np.ndarray
    root: np.ndarray

    @classmethod
    def build(cls, names: Sequence[str], data: Sequence[float], W: np.ndarray) -> Objective:
        W = np.asarray(W, dtype=float)
        return cls(names=tuple(names), data=np.asarray(data, dtype=float), W=W,
                   root=np.linalg.cholesky(W).T)

    def gap(self, moments: Mapping[str, float]) -> np.ndarray:
        """g = m(theta) - m_data in the order of ``names``."""
        return np.array([moments[n] for n in self.names]) - self.data

    def weighted(self, moments: Mapping[str, float]) -> np.ndarray:
        """R g with R'R = W."""
        return self.root @ self.gap(moments)

    def value(self, moments: Mapping[str, float]) -> float:
        """Q(theta) = g' W g."""
        g = self.gap(moments)
        return float(g @ self.W @ g)
