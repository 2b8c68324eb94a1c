"""The event study of section 4.1 (Figure 2), in partial equilibrium as in the paper.

A cohort enters at period 0 in the stationary economy of ``params``. At the start of
period 1 the returns on human capital and assets in ``market`` fall by ``drop`` in logs
(100 bp: w~ and r~ are logs, so w and r are multiplied by e^-0.01), permanently and
unexpectedly. For each horizon tau = 1..A-1 since the shock, the regression
Y_i = b0 + b1 dummy_i + e_i (dummy: employed in ``market`` when the shock hits, i.e.
chose it at period 0) has b1 = mean(Y | dummy) - mean(Y | no dummy), with the
heteroskedasticity-robust standard error sqrt(var_1/n_1 + var_0/n_0). Outcomes (the
paper's section-2 definitions): cumulative earnings 100 sum_{t=1}^{tau} E_t / E_0 with
E_t = w_l h the earnings at t, and the percent change in assets 100 (k_tau - k_0) / k_0
with k = (1 - theta) W at the start of a period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidParamsError, Violation
from ..protocol import readonly
from .params import Numerics, Params
from .simulate import Histories, simulate_cohort


@dataclass(frozen=True, slots=True, kw_only=True)
class EventStudy:
    """b1 and its standard error by horizon (``horizons`` = 1..A-1) for both outcomes;
    ``employment[t]``: share of the cohort working in the shocked market at period t
    (t = 0..A-1), ``employment_base[t]`` the same without the shock (same draws)."""

    horizons: np.ndarray
    b_earnings: np.ndarray
    se_earnings: np.ndarray
    b_assets: np.ndarray
    se_assets: np.ndarray
    employment: np.ndarray
    employment_base: np.ndarray
    n_agents: int
    share_exposed: float


def event_study(params: Params, numerics: Numerics | None = None, *, market: int = 0,
                drop: float = 0.01, n_agents: int | None = None,
                seed: int | None = None) -> EventStudy:
    """Simulate the cohort with and without the shock (same draws) and run the regressions."""
    numerics = Numerics() if numerics is None else numerics
    J = params.n_markets
    if not (isinstance(market, (int, np.integer)) and 0 <= market < J) \
            or not (isinstance(drop, (int, float)) and np.isfinite(drop)):
        raise InvalidParamsError("hadsge.event_study", [
            Violation("market", f"must be an integer in [0, {J - 1}]", market),
            Violation("drop", "must be a finite number (log points)", drop)])
    shocked = market_shock(params, market, float(np.expm1(-drop)))
    kw = dict(n_agents=n_agents, seed=seed)
    hist = simulate_cohort(params, numerics, shocked=shocked, shock_period=1, **kw)
    base = simulate_cohort(params, numerics, **kw)
    return regress(hist, market, base)


def market_shock(params: Params, location: int, size: float) -> Params:
    """The returns on human capital and assets in market ``location`` scaled by
    ``1 + size`` (size -0.01 is -1%): the model's region shock (sweeps' ``shocks`` axis)."""
    problems = []
    if isinstance(location, bool) or not isinstance(location, (int, np.integer)) \
            or not 0 <= location < params.n_markets:
        problems.append(Violation("location", f"must be a market index in "
                                  f"[0, {params.n_markets - 1}]", location))
    if isinstance(size, bool) or not isinstance(size, (int, float)) or not size > -1.0:
        problems.append(Violation("size", "must be a number > -1", size))
    if problems:
        raise InvalidParamsError("hadsge.market_shock", problems)
    scale = np.ones(params.n_markets)
    scale[int(location)] = 1.0 + float(size)
    return params.with_(w=params.w * scale, r=params.r * scale)


def regress(hist: Histories, market: int, base: Histories | None = None) -> EventStudy:
    """The regressions of ``event_study`` on simulated histories."""
    A = hist.market.shape[1]
    exposed = hist.market[:, 0] == market
    earn = hist.earnings
    cum = 100.0 * np.cumsum(earn[:, 1:], axis=1) / earn[:, [0]]
    k = hist.assets
    dk = 100.0 * (k[:, 1:A] - k[:, [0]]) / k[:, [0]]
    b_e, se_e = _dummy_regression(cum, exposed)
    b_k, se_k = _dummy_regression(dk, exposed)
    emp = np.mean(hist.market == market, axis=0)
    emp_b = emp if base is None else np.mean(base.market == market, axis=0)
    return EventStudy(horizons=np.arange(1, A), b_earnings=readonly(b_e),
                      se_earnings=readonly(se_e), b_assets=readonly(b_k),
                      se_assets=readonly(se_k), employment=readonly(emp),
                      employment_base=readonly(emp_b), n_agents=int(exposed.size),
                      share_exposed=float(exposed.mean()))


def _dummy_regression(Y: np.ndarray, dummy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OLS slope on a 0/1 dummy per column of Y and its robust standard error."""
    y1, y0 = Y[dummy], Y[~dummy]
    if y1.shape[0] < 2 or y0.shape[0] < 2:
        nan = np.full(Y.shape[1], np.nan)
        return nan, nan
    b = y1.mean(axis=0) - y0.mean(axis=0)
    se = np.sqrt(y1.var(axis=0, ddof=1) / y1.shape[0] + y0.var(axis=0, ddof=1) / y0.shape[0])
    return b, se


def plot_event_study(es: EventStudy, path=None):
    """Figure 2: b1 by horizon for cumulative earnings and assets, with 95% bands. Writes a
    PNG to ``path`` if given; returns the matplotlib figure."""
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    for b, se, label in ((es.b_earnings, es.se_earnings, "cumulative earnings"),
                         (es.b_assets, es.se_assets, "assets, % change")):
        ax.plot(es.horizons, b, marker="o", label=label)
        ax.fill_between(es.horizons, b - 1.96 * se, b + 1.96 * se, alpha=0.2)
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel("periods since the shock")
    ax.set_ylabel("b1 (exposed - not exposed)")
    ax.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig
