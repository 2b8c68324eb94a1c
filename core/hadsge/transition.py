"""Perfect-foresight transition after an unexpected, permanent change in fundamentals.

The economy is in the steady state ``ss0`` when, at the start of t = 0, productivity A,
trade costs kappa (``production1``) and possibly the households' fundamentals
(``params1``) change for good. Unknowns: the paths x_t = (log w_t, log r_t), t = 0..T-1;
from T on the returns are the new steady state's (``ss1``, solved first). Households
re-optimise along the path from the state of ``ss0`` (``path.path_supplies``); each
period's temporary equilibrium (eqs. 13-18) prices the supplies, and the residual is
F_t = log(returns implied by w~_t, r~_t) - x_t, 2 J T equations.

Solver: the quasi-Newton method of ``numerics.newton`` started from the constant path
x_t = x_ss1 with an approximate Jacobian of the stacked system that uses the
economy's finite memory: a worker lives A periods, so returns at date s move supplies
only at dates |t - s| < A, and once the workers alive at t = 0 are gone (s >= A),
dF_t/dx_s near the new steady state depends only on t - s (sequence-space Jacobians,
Auclert, Bardoczy, Rognlie and Straub 2021). Columns for s < A and for one middle date
s* are forward differences of the path residual (2 J (A + 1) path evaluations); s*'s are
placed along the diagonals for the other dates; Broyden's updates then correct it (with
the s* columns alone for every date, the T = 100, A = 10 path converged only linearly,
about 25% per step, because the workers alive at t = 0 cannot revise the shares they
hold). A truncation error remains if T is too short for the path to settle: the
gap of the last period's returns to the new steady state is reported
(``residuals['terminal_gap']``) and raises above ``horizon_tol``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidParamsError, SolverConvergenceError, Violation
from ..numerics.newton import newton_solve
from ..protocol import readonly
from .equilibrium import check_markets, solve_steady_state
from .params import GENumerics, Numerics, Params
from .path import Initial, initial_from_steady_state, path_supplies
from .production import Production, make_pricer
from .result import SteadyState

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """The path t = 0..T-1. w, r (T, J): gross returns; L, K, C (T, J): supplies and
    consumption; w_real, r_real (T, J); log_Pc (T, N); R (T, N, I); pi (T, I, N, N);
    mu0 (A, J, J): nu-averaged choice shares at t = 0 by age; ss0, ss1: the steady states
    before and after (ss0 None in changes, ``hat``; its prices are then relative to the
    base period: log_Pc = log P^n_t / P^n_0). residuals: ``max_abs_log_return_gap`` and
    ``terminal_gap`` (max |log w_{T-1} / w_ss1|, the same for r)."""

    w: np.ndarray
    r: np.ndarray
    L: np.ndarray
    K: np.ndarray
    C: np.ndarray
    w_real: np.ndarray
    r_real: np.ndarray
    log_Pc: np.ndarray
    R: np.ndarray
    pi: np.ndarray
    mu0: np.ndarray
    ss0: SteadyState | None
    ss1: SteadyState
    converged: bool
    n_iter: int
    residuals: dict


def solve_transition(ss0: SteadyState, production1: Production, T: int, *,
                     params1: Params | None = None, numerics: Numerics | None = None,
                     ge: GENumerics | None = None, horizon_tol: float = 1e-6) -> Transition:
    """The transition from ``ss0`` after the change to ``production1`` (and ``params1``;
    None: ``ss0.params``) over T periods. Raises ``SolverConvergenceError`` with the
    residual (or the terminal gap) if the path is not found."""
    numerics = Numerics() if numerics is None else numerics
    ge = GENumerics() if ge is None else ge
    params1 = ss0.params if params1 is None else params1
    _check(params1, production1, T, ss0)
    ss1 = solve_steady_state(params1.with_(w=ss0.w, r=ss0.r), production1, numerics, ge,
                             warm_start=ss0 if params1 is ss0.params else None)
    initial = initial_from_steady_state(ss0.aggregates, ss0.household)
    pricer = make_pricer(production1, ge.market_tol, ge.market_max_iter)
    return transition_at(params1, pricer, initial, ss1, T, numerics, ge, horizon_tol, ss0)


def transition_at(params1: Params, pricer, initial: Initial, ss1: SteadyState, T: int,
                  numerics: Numerics, ge: GENumerics, horizon_tol: float,
                  ss0: SteadyState | None = None) -> Transition:
    """The path given the period's temporary equilibrium ``pricer(L, K, log_R0)`` (levels,
    or in changes for ``hat``), the state at t = 0 and the new steady state."""
    block = _PathBlock(params1, pricer, numerics, ge, initial, T)
    x1 = np.concatenate([np.log(ss1.w), np.log(ss1.r)])
    x0 = np.tile(x1, T)
    jac = block.toeplitz_jacobian(x0)
    res = newton_solve(block.residual, x0, lambda x: jac, jac0=jac, jac0_fresh=True,
                       max_iter=ge.max_iter, refresh=0.9, max_step=1.0,
                       done=lambda x, F, dx: float(np.max(np.abs(F))) <= ge.tol)
    gap = float(np.max(np.abs(res.F)))
    if not res.converged:
        raise SolverConvergenceError(f"hadsge transition: markets do not clear ({res.message})",
                                     residuals={"max_abs_log_return_gap": gap},
                                     n_iter=res.n_iter)
    sup, stat = block.evaluate(res.x)
    terminal = float(np.max(np.abs(res.x.reshape(T, -1)[-1] - x1)))
    if terminal > horizon_tol:
        raise SolverConvergenceError(
            f"hadsge transition: returns at T - 1 = {T - 1} are not yet the new steady "
            "state's; lengthen T", residuals={"terminal_gap": terminal}, n_iter=res.n_iter)
    logger.debug("hadsge transition T=%d: %d steps, gap %.2e", T, res.n_iter, gap)
    J = params1.n_markets
    x = res.x.reshape(T, 2 * J)
    return Transition(
        w=readonly(np.exp(x[:, :J])), r=readonly(np.exp(x[:, J:])), L=readonly(sup.L),
        K=readonly(sup.K), C=readonly(sup.C),
        w_real=readonly([s.w_real for s in stat]), r_real=readonly([s.r_real for s in stat]),
        log_Pc=readonly([s.log_Pc for s in stat]), R=readonly([s.R for s in stat]),
        pi=readonly([s.pi for s in stat]), mu0=readonly(sup.mu0), ss0=ss0, ss1=ss1,
        converged=True, n_iter=res.n_iter,
        residuals={"max_abs_log_return_gap": gap, "terminal_gap": terminal})


def _check(params1, production1, T, ss0) -> None:
    check_markets(params1, production1)
    problems = []
    if not (isinstance(T, (int, np.integer)) and 2 <= T <= 100_000):
        problems.append(Violation("T", "must be an integer in [2, 100000]", T))
    if (params1.n_ages, params1.n_markets) != (ss0.params.n_ages, ss0.params.n_markets):
        problems.append(Violation("params1", "must have the ages and markets of ss0",
                                  (params1.n_ages, params1.n_markets)))
    if problems:
        raise InvalidParamsError("hadsge.solve_transition", problems)


class _PathBlock:
    """x (2 J T) -> F(x), and the banded Toeplitz approximation of its Jacobian."""

    def __init__(self, params, pricer, numerics, ge, initial: Initial, T):
        self.params, self.pricer, self.numerics, self.ge = params, pricer, numerics, ge
        self.initial, self.T, self.J = initial, T, params.n_markets
        self.log_R = [None] * T
        self.cache = None  # while the Jacobian's columns are computed: cohorts and statics

    def evaluate(self, x):
        T, J = self.T, self.J
        x = x.reshape(T, 2 * J)
        sup = path_supplies(self.params, self.numerics, self.initial, np.exp(x[:, :J]),
                            np.exp(x[:, J:]), self.cache)
        stat = []
        for t in range(T):
            key = None if self.cache is None else (sup.L[t].tobytes(), sup.K[t].tobytes())
            st = None if key is None else self.cache.get(key)
            if st is None:
                st = self.pricer(sup.L[t], sup.K[t], self.log_R[t])
                self.log_R[t] = np.log(st.R)
                if key is not None:
                    self.cache[key] = st
            stat.append(st)
        return sup, stat

    def residual(self, x):
        try:
            _, stat = self.evaluate(x)
        except SolverConvergenceError:
            return None
        J = self.J
        x = x.reshape(self.T, 2 * J)
        implied = np.log([np.concatenate([s.w, s.r]) for s in stat])
        return (implied - x).ravel()

    def toeplitz_jacobian(self, x):
        """dF/dx at x: exact forward-difference columns for dates s < A (cohorts alive at
        t = 0 hold the old shares and wealth, so the response differs there), and for
        s >= A the columns of the middle date s* moved along the diagonals, D[t - s] for
        |t - s| < A (zero beyond: a worker lives A periods)."""
        T, n = self.T, 2 * self.J
        A = self.params.n_ages
        self.cache = {}
        try:
            F0 = self.residual(x)
            s_mid = min(max(2 * A, T // 2), T - 1)
            exact = {s: self._columns(x, F0, s) for s in sorted({*range(min(A, T)), s_mid})}
        finally:
            self.cache = None
        jac = np.zeros((T, n, T, n))
        for s in range(T):
            if s in exact:
                jac[:, :, s, :] = exact[s]
                continue
            for t in range(max(0, s - A + 1), min(T, s + A)):
                d = t - s + s_mid
                if 0 <= d < T:
                    jac[t, :, s, :] = exact[s_mid][d]
        return jac.reshape(T * n, T * n)

    def _columns(self, x, F0, s):
        """(T, n, n) forward differences of F in the n returns of date s."""
        T, n = self.T, 2 * self.J
        cols = np.empty((T * n, n))
        for i in range(n):
            xi = x.copy()
            xi[s * n + i] += self.ge.fd_step
            cols[:, i] = (self.residual(xi) - F0) / self.ge.fd_step
        return cols.reshape(T, n, n)
