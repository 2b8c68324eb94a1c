"""The static Armington goods market, solved by Newton's method in log wages.

One engine serves the levels equilibrium, exact hat algebra and (later) each
period of the dynamic spatial model. It solves for x > 0 (wages, or wage
changes) such that every region's exports equal its imports:

    lam[i, j] = G[i, j] x_i^(1-sigma) / sum_k G[k, j] x_k^(1-sigma)
    Y_i       = c_i x_i ell_i
    F_i       = sum_{j != i} lam[i, j] Y_j - Y_i sum_{k != i} lam[k, i] = 0

with labour ell either fixed or chosen by logit migration,
ell_j = L_tot b_j (x_j / P_j)^kappa / sum_k b_k (x_k / P_k)^kappa and
P_j = (sum_k G[k, j] x_k^(1-sigma))^(1/(1-sigma)).

Levels: G = a (tau / A)^(1-sigma), c = 1, x = w. Exact hat algebra:
G = lam0 * a_hat (tau_hat / A_hat)^(1-sigma), c = Y0 / L0, x = w_hat.

Accuracy rests on the residual, written as exports minus imports so that no
O(1) quantities cancel (near autarky the trade flows are 1e-9 of income and
more); convergence is judged relative to each region's gross trade. The
Jacobian (analytic) only steers Newton; a backtracking line search guards it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SolverConvergenceError


@dataclass(frozen=True, slots=True)
class Migration:
    """Logit labour supply: ell_j = total * b_j (x_j/P_j)^kappa / sum_k b_k (x_k/P_k)^kappa."""

    kappa: float
    log_b: np.ndarray
    total: float


@dataclass(frozen=True, slots=True)
class MarketState:
    """Everything the market implies at one x (all arrays over regions)."""

    log_x: np.ndarray
    lam: np.ndarray
    log_p: np.ndarray
    ell: np.ndarray
    income: np.ndarray
    exports: np.ndarray
    imports: np.ndarray

    @property
    def imbalance(self) -> np.ndarray:
        """Exports minus imports relative to gross trade (zero in equilibrium)."""
        gross = self.exports + self.imports
        return (self.exports - self.imports) / np.where(gross > 0, gross, 1.0)


@dataclass(frozen=True, slots=True)
class MarketSolution:
    state: MarketState
    n_iter: int
    max_imbalance: float


def evaluate(log_g, c, sigma, labour, log_x) -> MarketState:
    """Shares, price indices, labour, income and trade at x = exp(log_x)."""
    z = log_g + (1.0 - sigma) * log_x[:, None]
    log_d = _logsumexp_columns(z)
    lam = np.exp(z - log_d[None, :])
    log_p = log_d / (1.0 - sigma)
    if isinstance(labour, Migration):
        r = labour.log_b + labour.kappa * (log_x - log_p)
        ell = labour.total * np.exp(r - _logsumexp_columns(r[:, None]))
    else:
        ell = labour
    income = c * np.exp(log_x) * ell
    off = lam.copy()
    np.fill_diagonal(off, 0.0)
    exports = off @ income
    imports = income * off.sum(axis=0)
    return MarketState(log_x, lam, log_p, ell, income, exports, imports)


def _logsumexp_columns(z: np.ndarray) -> np.ndarray:
    """log sum_i exp(z[i, j]) per column, max-shifted; entries may be -inf (zero weight).

    Written out because scipy.special.logsumexp costs ~20 times more on the small
    matrices the dynamic model evaluates thousands of times.
    """
    top = z.max(axis=0)
    top = np.where(np.isfinite(top), top, 0.0)
    return top + np.log(np.exp(z - top[None, :]).sum(axis=0))


def jacobian(state: MarketState, sigma: float, labour) -> np.ndarray:
    """d(exports - imports)_i / d log x_k, assembled without cancellation of O(1) terms."""
    lam, y = state.lam, state.income
    n = lam.shape[0]
    off = lam.copy()
    np.fill_diagonal(off, 0.0)
    own_out = off.sum(axis=0)  # o_j = 1 - lam[j, j], summed from the small shares
    # one_minus[i, j] = sum_{k != i} lam[k, j], from prefix and suffix sums (no cancellation)
    prefix = np.vstack([np.zeros((1, n)), np.cumsum(lam, axis=0)[:-1]])
    suffix = np.vstack([np.cumsum(lam[::-1], axis=0)[::-1][1:], np.zeros((1, n))])
    one_minus = prefix + suffix
    jac = -(1.0 - sigma) * (lam * y[None, :]) @ lam.T
    np.fill_diagonal(jac, (1.0 - sigma) * np.sum(lam * y[None, :] * one_minus, axis=1))
    lam_minus_i = off - np.diag(own_out)
    d_income = np.diag(y)
    if isinstance(labour, Migration):
        pi = state.ell / labour.total
        k_mat = labour.kappa * (np.diag(own_out) - off.T)  # kappa (I - lam^T)
        d_log_ell = k_mat - np.outer(np.ones(n), pi @ k_mat)
        d_income = d_income + y[:, None] * d_log_ell
    return jac + lam_minus_i @ d_income


def solve_market(
    log_g, c, sigma, labour, log_x0, *, tol: float, max_iter: int, anchor: int
) -> MarketSolution:
    """Newton on log x with x[anchor] fixed; raises SolverConvergenceError on failure."""
    n = log_g.shape[0]
    keep = np.arange(n) != anchor
    log_x = np.array(log_x0, dtype=np.float64) - log_x0[anchor]
    state = evaluate(log_g, c, sigma, labour, log_x)
    for it in range(max_iter + 1):
        worst = float(np.max(np.abs(state.imbalance))) if n > 1 else 0.0
        if not np.isfinite(worst):
            break
        if worst <= tol:
            return MarketSolution(state, it, worst)
        if it == max_iter:
            break
        state = _newton_step(state, log_g, c, sigma, labour, keep)
        if state is None:
            break
    raise SolverConvergenceError(
        "Armington goods market did not clear",
        residuals={"max_relative_trade_imbalance": worst},
        n_iter=it,
    )


def _newton_step(state, log_g, c, sigma, labour, keep):
    """One damped Newton step on the scaled residual; None if no step reduces it."""
    scale = state.exports + state.imports
    scale = np.where(scale > 0, scale, 1.0)
    resid = (state.exports - state.imports) / scale
    jac = jacobian(state, sigma, labour) / scale[:, None]
    try:
        step = np.linalg.solve(jac[np.ix_(keep, keep)], -resid[keep])
    except np.linalg.LinAlgError:
        step, *_ = np.linalg.lstsq(jac[np.ix_(keep, keep)], -resid[keep], rcond=None)
    biggest = np.max(np.abs(step)) if step.size else 0.0
    if biggest > 2.0:  # never move a wage by more than a factor e^2 in one step
        step *= 2.0 / biggest
    merit = float(resid @ resid)
    t = 1.0
    for _ in range(40):
        log_x = state.log_x.copy()
        log_x[keep] += t * step
        trial = evaluate(log_g, c, sigma, labour, log_x)
        r = (trial.exports - trial.imports) / scale
        if np.all(np.isfinite(r)) and float(r @ r) < (1.0 - 1e-4 * t) * merit:
            return trial
        t *= 0.5
    return None
