"""Public entry points of the Armington family.

- ``solve(params, numerics=None, warm_start=None)``: the registry's entry point.
- ``solve_equilibrium(sigma, tau, A, L, a=None, *, kappa=None, B=None, numeraire=None)``.
- ``exact_hat(X, sigma, *, A_hat=None, tau_hat=None, a_hat=None, B_hat=None, kappa=None,
  L=None, numeraire=None)``: counterfactual changes from observed flows alone.
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import Described
from ..validation import Checker
from .data import TradeData
from .market import MarketState, Migration, solve_market
from .params import Numerics, Params
from .result import Equilibrium, HatEquilibrium

logger = logging.getLogger(__name__)


def solve(
    params: Params, numerics: Numerics | None = None, warm_start: Equilibrium | None = None
) -> Equilibrium:
    """Levels equilibrium (lecture: "Armington: equilibrium"; with migration, the static
    migration section). ``warm_start`` reuses a previous solution's wages."""
    numerics = numerics or Numerics()
    p = params
    log_g = np.log(p.a) + (1.0 - p.sigma) * (np.log(p.tau) - np.log(p.A)[:, None])
    total = float(p.L.sum())
    labour = p.L if p.kappa is None else Migration(p.kappa, np.log(p.amenities), total)
    log_x0 = _initial_log_x(warm_start, p.n_regions)
    sol = solve_market(
        log_g,
        np.ones(p.n_regions),
        p.sigma,
        labour,
        log_x0,
        tol=numerics.tol,
        max_iter=numerics.max_iter,
        anchor=int(np.argmax(p.L)),
    )
    st = _normalise(
        sol.state,
        log_g,
        np.ones(p.n_regions),
        p.sigma,
        labour,
        numeraire=p.numeraire,
        world_income=total,
    )
    log_real = st.log_x - st.log_p
    with np.errstate(over="ignore", under="ignore"):
        P, real_wage = np.exp(st.log_p), np.exp(log_real)
    if not (np.all(np.isfinite(real_wage)) and np.all(P > 0) and np.all(np.isfinite(P))):
        logger.warning(
            "price indices leave the float64 range (sigma=%g); use log_P and log_real_wage", p.sigma
        )
    return Equilibrium(
        w=np.exp(st.log_x),
        lam=st.lam,
        P=P,
        real_wage=real_wage,
        L=st.ell.copy(),
        Y=st.income,
        X=st.lam * st.income[None, :],
        log_P=st.log_p,
        log_real_wage=log_real,
        converged=True,
        n_iter=sol.n_iter,
        residuals={"max_relative_trade_imbalance": sol.max_imbalance},
        params=p,
        numerics=numerics,
    )


def solve_equilibrium(
    sigma,
    tau,
    A,
    L,
    a=None,
    *,
    kappa=None,
    B=None,
    numeraire=None,
    numerics: Numerics | None = None,
) -> Equilibrium:
    """Levels equilibrium from arrays; see :class:`Params` for the arguments."""
    params = Params(sigma=sigma, tau=tau, A=A, L=L, a=a, kappa=kappa, B=B, numeraire=numeraire)
    return solve(params, numerics)


def exact_hat(
    X,
    sigma,
    *,
    A_hat=None,
    tau_hat=None,
    a_hat=None,
    B_hat=None,
    kappa=None,
    L=None,
    numeraire=None,
    numerics: Numerics | None = None,
) -> HatEquilibrium:
    """Counterfactual changes from baseline flows ``X`` (or a :class:`TradeData`) alone.

    Lecture, "Exact hat algebra": w_hat_i = sum_j (X[i,j] / Y_i) lam_hat[i,j] w_hat_j with
    lam_hat[i,j] = (tau_hat[i,j] w_hat_i / A_hat_i)^(1-sigma) a_hat[i,j]
    / sum_k lam[k,j] a_hat[k,j] (tau_hat[k,j] w_hat_k / A_hat_k)^(1-sigma) and
    P_hat_j = (sum_k lam[k,j] a_hat[k,j] (tau_hat[k,j] w_hat_k / A_hat_k)^(1-sigma))^(1/(1-sigma)).
    With ``kappa`` (migration; needs baseline labour ``L``), labour changes as
    L_hat_j = B_hat_j (w_hat_j/P_hat_j)^kappa / sum_k (L_k/sum L) B_hat_k (w_hat_k/P_hat_k)^kappa
    and w_hat_j L_hat_j replaces w_hat_j on the left of market clearing.
    """
    numerics = numerics or Numerics()
    data = X if isinstance(X, TradeData) else TradeData(X=X, L=L)
    if L is not None and isinstance(X, TradeData):
        data = TradeData(X=data.X, L=L, balance_rtol=data.balance_rtol)
    shock = _HatShock.build(data, sigma, A_hat, tau_hat, a_hat, B_hat, kappa, numeraire)
    y0 = data.income
    lam0 = data.shares
    with np.errstate(divide="ignore"):
        log_g = (
            np.log(lam0)
            + np.log(shock.a_hat)
            + (1.0 - shock.sigma) * (np.log(shock.tau_hat) - np.log(shock.A_hat)[:, None])
        )
    if shock.kappa is None:
        c, labour = y0, np.ones_like(y0)
    else:
        c = y0 / data.L
        labour = Migration(shock.kappa, np.log(data.L * shock.B_hat), float(data.L.sum()))
    sol = solve_market(
        log_g,
        c,
        shock.sigma,
        labour,
        np.zeros_like(y0),
        tol=numerics.tol,
        max_iter=numerics.max_iter,
        anchor=int(np.argmax(y0)),
    )
    st = _normalise(
        sol.state,
        log_g,
        c,
        shock.sigma,
        labour,
        numeraire=shock.numeraire,
        world_income=float(y0.sum()),
    )
    return _hat_result(st, data, shock, sol, numerics)


def _hat_result(st: MarketState, data: TradeData, shock, sol, numerics) -> HatEquilibrium:
    lam0 = data.shares
    w_hat, P_hat = np.exp(st.log_x), np.exp(st.log_p)
    real_hat = w_hat / P_hat
    with np.errstate(invalid="ignore", divide="ignore"):
        lam_hat = np.where(lam0 > 0, st.lam / lam0, np.nan)
    if shock.kappa is None:
        L_hat, welfare = np.ones_like(w_hat), None
    else:
        L_hat = st.ell / data.L
        pi = data.L / data.L.sum()
        welfare = float(np.sum(pi * shock.B_hat * real_hat**shock.kappa) ** (1.0 / shock.kappa))
    return HatEquilibrium(
        w_hat=w_hat,
        lam_hat=lam_hat,
        P_hat=P_hat,
        real_wage_hat=real_hat,
        L_hat=L_hat,
        Y_hat=st.income / data.income,
        lam_new=st.lam,
        X_new=st.lam * st.income[None, :],
        welfare_hat=welfare,
        converged=True,
        n_iter=sol.n_iter,
        residuals={"max_relative_trade_imbalance": sol.max_imbalance},
        numerics=numerics,
    )


class _HatShock:
    """Validated counterfactual changes in fundamentals (defaults: no change)."""

    __slots__ = ("A_hat", "B_hat", "a_hat", "kappa", "numeraire", "sigma", "tau_hat")

    @classmethod
    def build(cls, data, sigma, A_hat, tau_hat, a_hat, B_hat, kappa, numeraire):
        n = data.X.shape[0]
        check = Checker("exact_hat")
        self = cls()
        self.sigma = check.check_scalar(sigma, "sigma", gt=1.0)
        self.A_hat = _given(check, A_hat, "A_hat", (n,))
        self.tau_hat = _given(check, tau_hat, "tau_hat", (n, n))
        self.a_hat = _given(check, a_hat, "a_hat", (n, n))
        self.B_hat = _given(check, B_hat, "B_hat", (n,))
        self.kappa = None if kappa is None else check.check_scalar(kappa, "kappa", gt=0.0)
        if kappa is not None:
            check.require(data.L is not None, "L", "baseline labour is needed with kappa", None)
        elif B_hat is not None:
            check.fail("B_hat", "amenity changes need kappa (migration)", Described("kappa=None"))
        self.numeraire = (
            None
            if numeraire is None
            else check.check_scalar(numeraire, "numeraire", ge=0, le=n - 1, integer=True)
        )
        check.done()
        return self


def _given(check: Checker, value, name: str, shape) -> np.ndarray:
    if value is None:
        return np.ones(shape)
    arr = check.check_array(value, name, shape=shape, gt=0.0)
    return np.ones(shape) if arr is None else arr


def _initial_log_x(warm_start, n: int) -> np.ndarray:
    if warm_start is not None and getattr(warm_start, "w", None) is not None:
        if warm_start.w.shape == (n,):
            return np.log(warm_start.w)
    return np.zeros(n)


def _normalise(state: MarketState, log_g, c, sigma, labour, *, numeraire, world_income):
    """Rescale x (the equilibrium is homogeneous of degree one in x) and re-evaluate."""
    from .market import evaluate

    if numeraire is not None:
        shift = -state.log_x[numeraire]
    else:
        shift = np.log(world_income) - np.log(state.income.sum())
    return evaluate(log_g, c, sigma, labour, state.log_x + shift)
