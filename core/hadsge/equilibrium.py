"""The general-equilibrium steady state of Dvorkin's economy (section 3.4, Definition 1).

Unknowns: x = (log w_l, log r_l), the gross returns households take as given, 2J of
them. At x the household block (Proposition 1, eqs. 11-12) and Proposition 2 give the
effective supplies L_l, K_l; the temporary equilibrium (``production.solve_static``,
eqs. 13-18) gives the firms' real factor prices w~, r~ at those supplies, and the
return link of ``production`` the gross returns they imply. The residual is

    F(x) = (log(1 - delta_h + w~_l(x)) - log w_l,  log(1 - delta_k + r~_l(x)) - log r_l),

zero exactly when labour and capital markets (17)-(18) clear at the households' returns
(goods markets (16) clear inside the static block). It is solved by the globalised
quasi-Newton method of ``numerics.newton`` with a forward-difference Jacobian (2J
household solves) and Broyden updates; households' returns are positive by
construction (the unknowns are logs). Non-convergence raises ``SolverConvergenceError``
with the largest residual.
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import InvalidParamsError, SolverConvergenceError, Violation
from ..numerics.newton import newton_solve
from ..protocol import readonly
from .aggregate import aggregate
from .household import solve_household
from .params import GENumerics, Numerics, Params
from .production import Production, make_pricer
from .result import SteadyState

logger = logging.getLogger(__name__)


def solve_steady_state(params: Params, production: Production,
                       numerics: Numerics | None = None, ge: GENumerics | None = None,
                       warm_start: SteadyState | None = None) -> SteadyState:
    """The steady state; ``params.w``, ``params.r`` are the starting returns (or the
    ``warm_start``'s equilibrium returns, whose Jacobian is then reused)."""
    numerics = Numerics() if numerics is None else numerics
    ge = GENumerics() if ge is None else ge
    check_markets(params, production)
    pricer = make_pricer(production, ge.market_tol, ge.market_max_iter)
    if warm_start is not None:
        x0 = np.concatenate([np.log(warm_start.w), np.log(warm_start.r)])
        jac0 = warm_start.jacobian
    else:
        x0, jac0 = np.concatenate([np.log(params.w), np.log(params.r)]), None
    return steady_state_at(params, production, pricer, numerics, ge, x0, jac0)


def steady_state_at(params: Params, production: Production, pricer, numerics: Numerics,
                    ge: GENumerics, x0: np.ndarray, jac0: np.ndarray | None) -> SteadyState:
    """The steady state with the temporary equilibrium ``pricer(L, K, log_R0)`` (levels,
    or in changes for ``hat``), from log returns x0 (and a Jacobian jac0 or None)."""
    block = _Block(params, pricer, numerics, ge)
    res = newton_solve(block.residual, x0, block.jacobian, jac0=jac0, max_iter=ge.max_iter,
                       done=lambda x, F, dx: float(np.max(np.abs(F))) <= ge.tol,
                       max_step=1.0)
    gap = float(np.max(np.abs(res.F)))
    if not res.converged:
        raise SolverConvergenceError(
            f"hadsge steady state: factor markets do not clear ({res.message})",
            residuals={"max_abs_log_return_gap": gap}, n_iter=res.n_iter)
    p, hh, ag, st = block.evaluate(res.x)
    logger.debug("hadsge steady state: %d Newton steps, %d Jacobians, gap %.2e",
                 res.n_iter, res.n_jacobians, gap)
    return SteadyState(w=readonly(p.w), r=readonly(p.r), params=p, household=hh,
                       aggregates=ag, static=st, production=production, converged=True,
                       n_iter=res.n_iter,
                       residuals={"max_abs_log_return_gap": gap, "max_goods_gap": st.residual},
                       jacobian=readonly(res.jacobian))


def check_markets(params: Params, production: Production) -> None:
    """The households' markets must be the production block's N x I."""
    if params.n_markets != production.n_markets:
        raise InvalidParamsError("hadsge general equilibrium", [Violation(
            "params.w", f"must have one entry per market, N x I = {production.n_markets}",
            params.n_markets)])


class _Block:
    """x -> F(x), remembering the last static solution as the next warm start."""

    def __init__(self, params, pricer, numerics, ge):
        self.params, self.pricer, self.numerics, self.ge = params, pricer, numerics, ge
        self.log_R = None
        self.J = params.n_markets

    def evaluate(self, x):
        J = self.J
        p = self.params.with_trusted(w=readonly(np.exp(x[:J])), r=readonly(np.exp(x[J:])))
        hh = solve_household(p, self.numerics)
        ag = aggregate(p, hh)
        st = self.pricer(ag.L, ag.K, self.log_R)
        self.log_R = np.log(st.R)
        return p, hh, ag, st

    def residual(self, x):
        try:
            _, _, _, st = self.evaluate(x)
        except SolverConvergenceError:
            return None
        J = self.J
        return np.concatenate([np.log(st.w) - x[:J], np.log(st.r) - x[J:]])

    def jacobian(self, x):
        F0 = self.residual(x)
        h = self.ge.fd_step
        jac = np.empty((x.size, x.size))
        for i in range(x.size):
            xi = x.copy()
            xi[i] += h
            Fi = self.residual(xi)
            if Fi is None:
                xi[i] -= 2.0 * h
                Fi = self.residual(xi)
                if Fi is None or F0 is None:
                    raise SolverConvergenceError(
                        "hadsge steady state: the static block fails next to the iterate "
                        "(no Jacobian column)", residuals={"column": float(i)})
                jac[:, i] = (F0 - Fi) / h
            else:
                jac[:, i] = (Fi - F0) / h
        return jac
