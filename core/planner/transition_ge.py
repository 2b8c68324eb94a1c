"""The planner's transition after a permanent region shock (DFM section 5, appendix
B.3, Figure 4): first order in sequence space, and the nonlinear perfect-foresight
path as a check.

The shock (a permanent change of productivity, A[location, :] scaled by 1 + size)
arrives with vanishing probability and is anticipated (67): the economy sits in the
deterministic steady state ``before`` until it arrives, and the plan has a
contingent branch for it. From the shock's first date (t = 0) on, fundamentals are
the new ones, so the path is built around the NEW steady state ``after``, and what
sets it moving is where the contingent plan puts the old households: each old node
(i, v), with its steady-state Xi_i(v) = P_i C_i(v), gets the promises that solve
theta Sbar^0_i(M) - M = beta R Xi_i(v) with the date-0 surplus S^0
(``PlannerBlock.initial``). dist_0 depends on S^0, hence on the whole path of
multipliers (the block's ``initial_jvp``); its part at the new steady state's own
S, initial(S_after; old dist, old Xi) - dist_after, is the shock.

Unknowns of period t (as the steady state's outer problem, ``outer.prices``): u_t =
(log w_0t..log w_{J-1}t, log(L_1t/L_0t)..log(L_{J-1}t/L_0t)); P_t from CES (B.48).
Targets of period t, the steady state's residuals with the block's outputs at t
(spending E_jt = P_jt int C_jt dphi_jt and population int dphi_jt):

    goods_it = log(sum_j lam_ijt E_jt / (w_it L_it)),   i = 0..J-1    (B.54, B.52-B.53)
    pop_jt   = log(int dphi_jt / L_jt),                  j = 1..J-1    (B.55-B.56)

There is no numeraire (the multipliers are in welfare units), as in the steady state.
Linear: with M_u, M_h (targets in unknowns and in the block's outputs) and P_u (the
block's inputs (w, P) in the unknowns), all closed forms by central differences, and
the block's fake-news Jacobian J (with the date-0 promises),

    H_U = I_T (x) M_u + M_h J P_u,   dU = -H_U^-1 M_h dY0,   dY0_t = E_t' d dist_0,

E_t the block's expectation vectors. The nonlinear path iterates U <- U - H_U^-1 F(U)
(one nonlinear block path per step). Cost: the block's fake-news Jacobian with the
contingent date-0 term, in closed form (``PlannerBlock``: per horizon one product with
the sweep's Jacobian and two passes of ``period_jvp.mass_jvp`` over the nodes), and
the LU of H_U ((2 J - 1) T square); measured at 48 locations in
examples/planner_transition.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import lu_factor, lu_solve

from ..errors import InvalidParamsError, SolverConvergenceError, Violation
from ..incomplete_markets.spatial_jacobian import central_jacobian
from ..transitions import fake_news_jacobian, nonlinear_path
from .outer import prices
from .params import Params
from .result import Solution
from .solve import solve
from .transition import PlannerBlock

__all__ = ["PlannerTransition", "permanent_shock", "shocked_params"]


def shocked_params(params: Params, location: int, size: float) -> Params:
    """``params`` with productivity A[location, :] scaled by 1 + size (as the
    workhorse's region shock)."""
    J = params.n_loc
    if isinstance(location, bool) or not 0 <= int(location) < J or not size > -1.0:
        raise InvalidParamsError("shocked_params", [Violation(
            "location, size", f"must be a location in 0..{J - 1} and a size > -1",
            (location, size))])
    A = np.array(params.A, dtype=float)
    A[int(location), :] *= 1.0 + size
    return params.with_(A=A)


@dataclass(frozen=True, slots=True)
class PlannerTransition:
    """A transition of the planner from ``before`` to ``after`` (module docstring):
    paths (T, J) by date and location of the population (levels, sums to one), the
    multipliers w and P, and spending E; ``steps``: quasi-Newton steps of a nonlinear
    path (0: the linear one); ``gap``: max |target| at its end."""

    before: Solution
    after: Solution
    population: np.ndarray
    w: np.ndarray
    P: np.ndarray
    spending: np.ndarray
    steps: int
    gap: float

    def population_change(self, location: int) -> np.ndarray:
        """(T,) population of ``location`` relative to the steady state before, - 1."""
        return self.population[:, location] / self.before.population[location] - 1.0


class _Builder:
    """The block around ``after``, its Jacobians and the shock of the old households."""

    def __init__(self, before: Solution, after: Solution, T: int):
        _check(before, after, T)
        self.before, self.after, self.T = before, after, int(T)
        self.block = b = PlannerBlock(after)
        self.J = J = b.J
        self.m = 2 * J - 1
        self.params = after.params
        self.u_ss = np.r_[np.log(after.w), np.log(after.population[1:] / after.population[0])]
        self.h_ss = b.aggregate(b.steady_distribution(), b._policy_ss)
        D = central_jacobian(self._forms, np.r_[self.u_ss, self.h_ss])
        m = self.m
        self.M_u, self.M_h, self.P_u = D[:m, :m], D[:m, m:], D[m:, :m]
        self.jac = fake_news_jacobian(b, self.T, initial=True).J  # (2J, 2J, T, T)
        # M_h J P_u as two tensor products (a three-operand einsum loops over every index
        # at once: hours at 48 locations)
        G = np.tensordot(np.tensordot(self.M_h, self.jac, axes=(1, 0)), self.P_u,
                         axes=(1, 0))  # (a, t, s, b)
        G = np.ascontiguousarray(G.transpose(0, 1, 3, 2))
        t = np.arange(self.T)
        G[:, t, :, t] += self.M_u[None, :, :]
        self.lu = lu_factor(G.reshape(m * self.T, m * self.T), check_finite=False)
        xi_before = before.C * before.P[:, None]  # P C at the old nodes
        self.old = (before.dist, xi_before)
        self.d0 = b.initial(b.steady_backward(), self.old) - b.steady_distribution()

    def _forms(self, z):
        """(targets (2J - 1), block inputs (w, P) (2J)) at z = (u, h)."""
        J, m = self.J, self.m
        w, L, P, lam = prices(self.params, z[:m])
        E, pop = z[m:m + J], z[m + J:]
        return np.r_[np.log(lam @ E / (w * L)), np.log(pop[1:] / L[1:]), w, P]

    def linear(self) -> tuple[np.ndarray, np.ndarray]:
        """(dU (T, m), dY (T, 2J)): the first-order paths around ``after``."""
        b, T = self.block, self.T
        E = b.output_vectors()  # (N, 2J)
        dY0 = np.empty((T, E.shape[1]))
        for t in range(T):
            if t > 0:
                E = b.expectation_step(E)
            dY0[t] = E.T @ self.d0
        dF = (dY0 @ self.M_h.T).T.ravel()  # (m T,) in (target, date) order
        dU = -lu_solve(self.lu, dF, check_finite=False).reshape(self.m, T).T
        dx = dU @ self.P_u.T  # (T, 2J)
        dY = dY0 + np.einsum("oits,si->to", self.jac, dx)
        return dU, dY

    def targets(self, U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(F (T, m), Y (T, 2J)): the targets of the nonlinear path at unknowns U (T, m)."""
        x = np.array([self._forms(np.r_[u, self.h_ss])[self.m:] for u in U])
        path = nonlinear_path(self.block, x,
                              initial=lambda state0: self.block.initial(state0, self.old))
        F = np.array([self._forms(np.r_[u, y])[:self.m] for u, y in zip(U, path.outputs,
                                                                      strict=True)])
        return F, path.outputs

    def result(self, U, Y, steps, gap) -> PlannerTransition:
        J = self.J
        x = np.array([self._forms(np.r_[u, self.h_ss])[self.m:] for u in U])
        return PlannerTransition(self.before, self.after, Y[:, J:].copy(), x[:, :J].copy(),
                                 x[:, J:].copy(), Y[:, :J].copy(), steps, gap)


def permanent_shock(before: Solution, location: int, size: float, T: int, *,
                    after: Solution | None = None, nonlinear: bool = False,
                    tol: float = 1e-10, max_steps: int = 20) -> PlannerTransition:
    """The planner's transition after a permanent shock of ``size`` to the productivity
    of ``location`` (module docstring), over T periods from the shock's first date;
    ``after``: the shocked steady state if already solved. Linear by default; with
    ``nonlinear``, the perfect-foresight path by quasi-Newton steps from the linear one
    until max |target| <= tol (SolverConvergenceError otherwise)."""
    if after is None:
        after = solve(shocked_params(before.params, location, size), before.numerics,
                      warm_start=before)
    bld = _Builder(before, after, T)
    dU, dY = bld.linear()
    U = bld.u_ss[None, :] + dU
    if not nonlinear:
        return bld.result(U, bld.h_ss[None, :] + dY, 0, float("nan"))
    gap = np.inf
    for step in range(max_steps + 1):
        F, Y = bld.targets(U)
        gap = float(np.max(np.abs(F)))
        if gap <= tol:
            return bld.result(U, Y, step, gap)
        U = U - lu_solve(bld.lu, F.T.ravel(), check_finite=False).reshape(bld.m, bld.T).T
    raise SolverConvergenceError("planner transition: the quasi-Newton path did not converge",
                                 residuals={"max_abs_target": gap}, n_iter=max_steps)


def _check(before, after, T) -> None:
    problems = []
    for name, sol in (("before", before), ("after", after)):
        if not isinstance(sol, Solution) or sol.params.allocation != "second_best":
            problems.append(Violation(name, "must be a second-best planner Solution",
                                      type(sol).__name__))
    if not problems and before.dist.shape != after.dist.shape:
        problems.append(Violation("before, after", "must have the same grid sizes (J, n_v)",
                                  (before.dist.shape, after.dist.shape)))
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 2:
        problems.append(Violation("T", "must be an integer >= 2", T))
    if problems:
        raise InvalidParamsError("planner transition", problems)
