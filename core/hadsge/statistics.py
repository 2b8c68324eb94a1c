"""Simulated statistics of a hadsge economy: the model's simulation hook (``ModelSpec.simulate``).

``simulate_statistics(sol, n, seed)`` simulates one cohort of ``n`` entrants through its
working life in the economy of ``sol`` (``simulate.simulate_cohort``; the draws come
from ``np.random.default_rng(seed)``, so a seed gives the same draws at any
parameters) and, with the same draws, the section-4.1 event study: the returns on
human capital and assets in market 0 fall by 100 bp (in logs) at period 1
(``event_study``). Statistics (``SIMULATED``; periods are ages, switches are
counted at ages 1..A-1, a log change of x from t - 1 to t is log x_t - log x_{t-1}):

- the mobility rate, and the switcher-minus-stayer gaps in the log change of
  earnings E = w h and of assets supplied k = psi eps (1 - theta) W: in the
  symmetric economy they measure tau (and psi) times the selection of switchers'
  opportunity shocks, (mu_jl / mu_jj)^(-1/alpha) (the working notes' R_h, R_k);
- the mean log growth of assets (1 - theta) W held at the start of a period;
- the s.d. of stayers' log change of earnings (nu and the Fréchet eps's spread);
- the event study's b1 for cumulative earnings and for the % change in assets, and
  the shock's effect on employment in market 0 (shocked minus unshocked share), at
  horizons ``HORIZONS`` (NaN beyond the cohort's working life A - 1).
"""

from __future__ import annotations

import numpy as np

from ..moment_info import MomentInfo
from .event_study import market_shock, regress
from .result import Solution
from .simulate import simulate_cohort

#: Horizons (periods since the shock) of the event-study statistics.
HORIZONS = (1, 3, 5, 9)
#: Market hit by the event study's shock, and the shock (log points).
SHOCK_MARKET, SHOCK_DROP = 0, 0.01

SIMULATED: dict[str, str] = {
    "mobility": "share of workers aged 1..A-1 who switch market in a period (simulated)",
    "switch_earnings_gap": "mean log change of earnings w h, switchers minus stayers",
    "switch_assets_gap": "mean log change of assets supplied k, switchers minus stayers",
    "asset_growth": "mean log growth of assets (1 - theta) W from one working age to the next",
    "earnings_growth_sd": "s.d. of the log change of earnings of stayers",
    **{f"es_earnings_{h}": f"event study: b1 for cumulative earnings (x100 of period-0 "
       f"earnings) {h} period(s) after the shock" for h in HORIZONS},
    **{f"es_assets_{h}": f"event study: b1 for the % change in assets {h} period(s) after "
       "the shock" for h in HORIZONS},
    **{f"es_employment_{h}": f"event study: employment share of the shocked market minus its "
       f"no-shock share {h} period(s) after the shock" for h in HORIZONS},
}


#: Labels and units of the SIMULATED statistics (hetspace.core.moment_info).
SIMULATED_INFO = {
    "switch_earnings_gap": MomentInfo("Earnings growth, switchers minus stayers", "log points"),
    "switch_assets_gap": MomentInfo("Asset growth, switchers minus stayers", "log points"),
    "asset_growth": MomentInfo("Asset growth", "log points per period"),
    "earnings_growth_sd": MomentInfo("S.d. of stayers' earnings growth", "log points"),
    **{f"es_earnings_{h}": MomentInfo(f"Event study: cumulative earnings, t = {h}",
                                      "% of period-0 earnings") for h in HORIZONS},
    **{f"es_assets_{h}": MomentInfo(f"Event study: asset change, t = {h}", "%")
       for h in HORIZONS},
    **{f"es_employment_{h}": MomentInfo(f"Event study: shocked market's employment, t = {h}",
                                        "% points", "percent") for h in HORIZONS},
}


def simulate_statistics(sol: Solution, n: int, seed: int) -> dict[str, float]:
    """The ``SIMULATED`` statistics of one cohort of ``n`` agents drawn with ``seed``."""
    p, num = sol.params, sol.numerics
    base = simulate_cohort(p, num, n_agents=n, seed=seed)
    shocked = simulate_cohort(p, num, shocked=market_shock(p, SHOCK_MARKET, np.expm1(-SHOCK_DROP)),
                              shock_period=1, n_agents=n, seed=seed)
    out = _mobility_statistics(base)
    es = regress(shocked, SHOCK_MARKET, base)
    A = p.n_ages
    for h in HORIZONS:
        inside = h <= A - 1
        out[f"es_earnings_{h}"] = float(es.b_earnings[h - 1]) if inside else np.nan
        out[f"es_assets_{h}"] = float(es.b_assets[h - 1]) if inside else np.nan
        out[f"es_employment_{h}"] = float(es.employment[h] - es.employment_base[h]) \
            if inside else np.nan
    return {k: out[k] for k in SIMULATED}


def _mobility_statistics(hist) -> dict[str, float]:
    """Mobility, switcher-stayer gaps, asset growth and stayers' earnings s.d."""
    A = hist.market.shape[1]
    switch = hist.market[:, 1:] != hist.market[:, :-1]
    with np.errstate(divide="ignore", invalid="ignore"):  # a corner share: zero h or k
        d_earn = np.diff(np.log(hist.earnings), axis=1)
        d_k = np.diff(np.log(hist.k), axis=1)
        d_assets = np.diff(np.log(hist.assets[:, :A]), axis=1)
    return {
        "mobility": float(switch.mean()),
        "switch_earnings_gap": _gap(d_earn, switch),
        "switch_assets_gap": _gap(d_k, switch),
        "asset_growth": float(np.mean(d_assets)) if A > 1 else np.nan,
        "earnings_growth_sd": float(np.std(d_earn[~switch], ddof=1))
        if np.count_nonzero(~switch) > 1 else np.nan,
    }


def _gap(x: np.ndarray, switch: np.ndarray) -> float:
    """mean(x | switch) - mean(x | stay); NaN without both."""
    if not switch.any() or switch.all():
        return np.nan
    return float(x[switch].mean() - x[~switch].mean())
