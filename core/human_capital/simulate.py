"""Age profiles over simulated survivors (papers/004, Figures 4-6, fn 18 and 23).

Each survivor's value, return and shares are computed at the state it reaches
(Lemma 2-3: at xhat = x / z, then scaled by z); ratios are averaged per state, as the
paper does. Overall wealth at age j (Figure 6) is taken as v_j (earnings from j+1 on)
plus the savings chosen at j (wealth carried into j+1), so both count the same periods;
the overall stock is the stock held plus share^s v_j (section 5). Draws come from a
seeded ``np.random.Generator`` here, never in kernels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..protocol import readonly
from . import value_kernels
from .result import LifeCycle

#: Age-profile fields: name -> meaning (each an array over ages 1..J-1).
PROFILES: dict[str, str] = {
    "alive": "share of the simulated cohort alive",
    "value": "mean value of human capital v_j, in units of e_1",
    "naive": "mean naive value, in units of e_1",
    "earnings": "mean earnings e_j, in units of e_1",
    "savings": "mean savings a_{j+1} chosen at j (bond plus stock), in units of e_1",
    "value_to_naive": "mean of v_j / naive value",
    "mean_return": "mean of E_j[R^h_{j+1}]",
    "share_bond": "mean bond share of v_j",
    "share_stock": "mean stock share of v_j",
    "share_orth": "mean orthogonal share of v_j",
    "stock_share_financial": "mean stock share of savings, among savers",
    "human_wealth_share": "mean of v_j / (v_j + savings_j), human capital in overall wealth",
    "stock_share_overall": "mean of (stock held + share^s v_j) / (v_j + savings_j)",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class AgeProfiles:
    """Means over survivors by age; every array has axis (age j-1,) for j = 1..J-1."""

    alive: np.ndarray
    value: np.ndarray
    naive: np.ndarray
    earnings: np.ndarray
    savings: np.ndarray
    value_to_naive: np.ndarray
    mean_return: np.ndarray
    share_bond: np.ndarray
    share_stock: np.ndarray
    share_orth: np.ndarray
    stock_share_financial: np.ndarray
    human_wealth_share: np.ndarray
    stock_share_overall: np.ndarray
    n_agents: int
    seed: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Panel:
    """Simulated agents; arrays have axes (agent, age j-1) for j = 1..J-1, NaN after death.

    alive: bool; z: earnings scale; xhat: cash on hand over z; point: (agent, age, 13) the
    ``value_kernels.decompose`` output (v, E R^h, E[m R^b], E[m R^s], a^b, a^s, share^b,
    share^s, share^orth; values over z) then the stock share of savings, consumption,
    savings and earnings over z; naive: naive value over z.
    """

    alive: np.ndarray
    z: np.ndarray
    xhat: np.ndarray
    point: np.ndarray
    naive: np.ndarray
    seed: int


def simulate_panel(sol: LifeCycle, n_agents: int | None = None,
                   seed: int | None = None) -> Panel:
    """Simulate ``n_agents`` (default ``numerics.n_sim``) from age 1 with ``seed``."""
    p, num, sh = sol.params, sol.numerics, sol.shocks
    n = num.n_sim if n_agents is None else int(n_agents)
    seed = num.seed if seed is None else int(seed)
    J = p.n_ages
    rng = np.random.default_rng(seed)
    uniforms = rng.random((n, J))
    survive = rng.random((n, J)) < sh.psi[None, :]
    if sh.init_prob is None:
        start = np.full(n, sh.state0, dtype=np.int64)
        x1 = np.full(n, sh.x1)
    else:
        start = rng.choice(sh.init_prob.size, size=n, p=sh.init_prob).astype(np.int64)
        x1 = sh.x1_by_state[start]
    alive = np.zeros((n, J - 1), dtype=np.bool_)
    z, x, naive = (np.full((n, J - 1), np.nan) for _ in range(3))
    point = np.full((n, J - 1, 13), np.nan)
    value_kernels.simulate_life_cycles(x1, start, uniforms, survive, sh.mdl, sol.pref,
                                       sol.pol, sol.naive, p.stock, alive, z, x, point, naive)
    alive.setflags(write=False)
    return Panel(alive=alive, z=readonly(z), xhat=readonly(x),
                 point=readonly(point), naive=readonly(naive), seed=seed)


def simulate_profiles(sol: LifeCycle, n_agents: int | None = None,
                      seed: int | None = None) -> AgeProfiles:
    """Age profiles (means over survivors) of ``simulate_panel(sol, n_agents, seed)``."""
    panel = simulate_panel(sol, n_agents, seed)
    alive, point = panel.alive, panel.point
    z, v, g = panel.z, point[..., 0], point[..., 12]
    e1 = sol.shocks.mean_e1
    savings = point[..., 11]
    savers = np.where(savings > 0.0, point[..., 9], np.nan)
    held = point[..., 9] * (savings - sol.shocks.amin[None, : alive.shape[1]])
    overall = v + savings  # wealth carried into j+1 and the value of earnings from j+1 on

    def mean(a):
        return _mean_or_nan(np.where(alive, a, np.nan))

    return AgeProfiles(
        alive=readonly(alive.mean(axis=0)), value=mean(z * v / e1),
        naive=mean(z * panel.naive / e1), earnings=mean(z * g / e1),
        savings=mean(z * savings / e1),
        value_to_naive=mean(v / panel.naive), mean_return=mean(point[..., 1]),
        share_bond=mean(point[..., 6]), share_stock=mean(point[..., 7]),
        share_orth=mean(point[..., 8]), stock_share_financial=mean(savers),
        human_wealth_share=mean(v / overall),
        stock_share_overall=mean((held + point[..., 7] * v) / overall),
        n_agents=int(alive.shape[0]), seed=panel.seed,
    )


def _mean_or_nan(a: np.ndarray) -> np.ndarray:
    count = np.sum(~np.isnan(a), axis=0)
    total = np.nansum(a, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return readonly(np.where(count > 0, total / np.maximum(count, 1), np.nan))
