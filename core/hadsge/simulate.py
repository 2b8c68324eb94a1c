"""Simulated histories of a cohort and the event study of section 4.1 (Figure 2).

A cohort enters at period 0 (age 0) and works through period A - 1; period t is age t.
Draws come from a seeded ``np.random.Generator`` here and enter the kernel as arrays.
With ``shocked`` params, an unexpected permanent change hits at ``shock_period``: from
then on agents choose with the shocked economy's values, shares and returns (the
shares they hold when it hits were chosen under the old returns).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidParamsError, Violation
from ..protocol import readonly
from . import kernels
from .household import make_age_arrays, solve_household
from .params import Numerics, Params


@dataclass(frozen=True, slots=True, kw_only=True)
class Histories:
    """Simulated agents i and periods t (= ages). market[i, t]: market chosen at t
    (t = 0..A-1); W, theta [i, t]: effective wealth and human-capital share at the start of
    t (t = 0..A, A is retirement); h, k [i, t]: effective human capital tau nu eps theta W
    and assets psi eps (1 - theta) W supplied at t; w, r [t, l]: the returns at t."""

    market: np.ndarray
    W: np.ndarray
    theta: np.ndarray
    h: np.ndarray
    k: np.ndarray
    w: np.ndarray
    r: np.ndarray
    beta: float

    @property
    def earnings(self) -> np.ndarray:
        """w_l h: gross earnings at t (N, A), the returns on human capital."""
        return self.w[np.arange(self.market.shape[1]), self.market] * self.h

    @property
    def income(self) -> np.ndarray:
        """w_l h + r_l k (N, A): omega eps W, the resources split into c and W'."""
        return self.earnings + self.r[np.arange(self.market.shape[1]), self.market] * self.k

    @property
    def consumption(self) -> np.ndarray:
        return (1.0 - self.beta) * self.income

    @property
    def assets(self) -> np.ndarray:
        """k = (1 - theta) W at the start of t (N, A + 1)."""
        return (1.0 - self.theta) * self.W


def simulate_cohort(params: Params, numerics: Numerics | None = None, *,
                    shocked: Params | None = None, shock_period: int = 1,
                    n_agents: int | None = None, seed: int | None = None) -> Histories:
    """Histories of ``n_agents`` (default ``numerics.n_sim``) entrants, seeded by ``seed``
    (default ``numerics.seed``); see the module docstring for ``shocked``."""
    numerics = Numerics() if numerics is None else numerics
    n = numerics.n_sim if n_agents is None else int(n_agents)
    seed = numerics.seed if seed is None else int(seed)
    A, J = params.n_ages, params.n_markets
    _check_shock(params, shocked, shock_period, n)
    regimes = [params] if shocked is None else [params, shocked]
    households = [solve_household(p, numerics) for p in regimes]
    fr_all = [make_age_arrays(p) for p in regimes]
    regime = np.zeros(A, dtype=int)
    if shocked is not None:
        regime[shock_period:] = 1
    ages = np.arange(A)
    pick = [np.stack([fr_all[g][i][t] for t, g in zip(ages, regime, strict=True)])
            for i in range(5)]
    fr = tuple(np.ascontiguousarray(x) for x in pick)
    w = np.stack([regimes[g].w for g in regime])
    r = np.stack([regimes[g].r for g in regime])
    theta_next = np.stack([households[g].theta[t + 1] for t, g in zip(ages, regime, strict=True)])
    ev_next = np.stack([households[g].ev[t + 1] for t, g in zip(ages, regime, strict=True)])
    rng = np.random.default_rng(seed)
    expo = rng.standard_exponential((n, A, J))
    z = rng.standard_normal((n, A))
    out = {"market": np.empty((n, A), dtype=np.int64), "W": np.empty((n, A + 1)),
           "theta": np.empty((n, A + 1)), "h": np.empty((n, A)), "k": np.empty((n, A))}
    kernels.simulate_cohort(
        (w, r), theta_next, ev_next, fr, float(params.beta), float(params.theta0),
        float(params.wealth0), params.log_nu_mean, float(np.sqrt(params.sigma_nu2)), expo, z,
        out["market"], out["W"], out["theta"], out["h"], out["k"])
    market = out.pop("market")
    market.setflags(write=False)
    return Histories(market=market, w=readonly(w), r=readonly(r), beta=float(params.beta),
                     **{k: readonly(v) for k, v in out.items()})


def _check_shock(params: Params, shocked: Params | None, shock_period: int, n: int) -> None:
    problems = []
    if n < 1:
        problems.append(Violation("n_agents", "must be >= 1", n))
    if shocked is not None:
        if (shocked.n_ages, shocked.n_markets) != (params.n_ages, params.n_markets):
            problems.append(Violation("shocked", "must have the same n_ages and markets",
                                      (shocked.n_ages, shocked.n_markets)))
        if not (isinstance(shock_period, int) and 1 <= shock_period < params.n_ages):
            problems.append(Violation("shock_period",
                                      f"must be an integer in [1, {params.n_ages - 1}]",
                                      shock_period))
    if problems:
        raise InvalidParamsError("hadsge.simulate_cohort", problems)
