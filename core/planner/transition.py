"""The second best as a transition block (``core.transitions.HetBlock``): the component
problem solved backward in time at paths of multipliers, the distribution over
(location, promise) forward (DFM section 5, appendix B.3; B.51 is the time-indexed
B.36, so a period's Bellman sweep is the steady state's with dated multipliers).

At date t the planner sees the multipliers x_t = (w_0t..w_{J-1}t, P_0t..P_{J-1}t)
and next period's surplus functions (S_{t+1}, Xi_{t+1} = -S'_{t+1}) on the v-grid:

    backward: (S_t, Xi_t) and the policies (M_t at the nodes, M^n_t) are one sweep
              ``kernels.bellman`` of (S_{t+1}, Xi_{t+1}) at (w_t, P_t) (B.44-B.47);
    forward:  incumbents at (i, v) move to (m, v'_m) with probability omega mu_im,
              newborns of i ((1 - omega) times i's population) to (m, v^n'_m), with
              Young lotteries linear in next period's Xi_{t+1} at the nodes
              (``second_best.transition_matrices``; promises beyond the grid are
              placed at its end node, as in the steady state, and that share, of the
              order of the steady state's ``mass_off_grid``, is not reported here);
    outputs:  E_j = P_jt int C_jt dphi_jt (spending, what the goods market clears
              (B.54) through the CES demand), L_j = int dphi_jt (population, B.55-B.56).

The backward state is the vector (S, ln Xi) at the nodes, the coordinates of the
steady state's Newton solver. x_{t+1} does not enter date t's step (next period's
multipliers are already in S_{t+1}).

Linearisation at the steady state, in closed form by default: the state's by the
sweep's Jacobian (``linearize``, newborn rows included) plus its columns in the
multipliers (w_i moves origin i's S one for one with (1 + alpha); P_i moves origin
i's policies by d ln P_i / dV at a fixed continuation), next period's mass by
``period_jvp.mass_jvp`` (the policies' and the lotteries' derivatives), the outputs
by the spending weights dist Xi; the contingent date-0 mass (``initial_jvp``) by the
same kernel with every node's D at its target. Per horizon that is one sparse
product and two passes over the nodes that only apply directions (each node's
destinations are computed once per block, ``period_jvp.node_pass``): at 48
locations x 240 nodes and all 96 inputs, about 0.35 s and 0.55 s each.
The reference, ``linearisation="differences"``, takes central differences of a
whole period (sweep, distribution step and outputs at the steady-state
distribution) along each direction, scaled to ``eps`` in max norm: two sweeps and
two distribution steps per direction, so 2 T k sweeps for k inputs (over two hours
at 48 locations and T = 100). Each node's problem is solved exactly (to rounding) by
the sweep, so the differences carry no solver noise; Young lotteries are piecewise
linear in Xi, so a difference that straddles a lottery's kink (a destination
crossing a node) is off for that entry (rare at eps = 1e-6). The two agree to 2e-7
(tests/core/planner/test_period_jvp.py).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ..errors import InvalidParamsError, SolverConvergenceError, Violation
from . import kernels, period_jvp
from .params import Params
from .result import Solution
from .second_best import STATUS, m_grid, newborn_rows, sweep_jacobian, transition_matrices

__all__ = ["PlannerBlock"]

EPS = 1e-6  # central-difference step, in max norm of the perturbed state and inputs
LINEARISATIONS = ("analytic", "differences")


class PlannerBlock:
    """The second best around its steady state ``Solution`` (module docstring)."""

    def __init__(self, solution: Solution, eps: float = EPS, linearisation: str = "analytic"):
        _check_solution(solution)
        if linearisation not in LINEARISATIONS:
            raise InvalidParamsError("PlannerBlock", [Violation(
                "linearisation", f"must be one of {list(LINEARISATIONS)}", linearisation)])
        self.linearisation = linearisation
        self._closed = None  # the analytic linearisation's pieces, on first use
        comp = solution.component
        p: Params = solution.params
        self.sol, self.params, self.eps = solution, p, float(eps)
        self.J, self.n = J, n = comp.S.shape
        self.N = J * n
        self.v_grid = np.ascontiguousarray(comp.v_grid)
        self.n_m = solution.numerics.n_m or 2 * n
        self._log_chi = np.ascontiguousarray(np.log(p.chi))
        self.inputs = (*(f"w_{j}" for j in range(J)), *(f"P_{j}" for j in range(J)))
        self.outputs = (*(f"E_{j}" for j in range(J)), *(f"L_{j}" for j in range(J)))
        self._x_ss = np.r_[np.asarray(solution.w, float), np.asarray(solution.P, float)]
        self._state_ss = np.r_[comp.S.ravel(), np.log(comp.X).ravel()]
        self._policy_ss = self.backward(self._state_ss, self._x_ss, self._x_ss)[1]
        K, Nb = self._matrices(self._policy_ss)
        self._where = np.repeat(np.eye(J), n, axis=0)  # (N, J): a state's location
        # Lambda E: survivors' continuation (K) plus the newborns who replace the dead of
        # the same location (N by origin)
        self._lambda = (K + sparse.csr_matrix(self._where) @ Nb).tocsr()
        self._dist_ss = np.asarray(solution.dist, float).ravel()

    # ---- nonlinear --------------------------------------------------------------------
    def steady_inputs(self) -> np.ndarray:
        return self._x_ss.copy()

    def steady_backward(self) -> np.ndarray:
        return self._state_ss.copy()

    def steady_distribution(self) -> np.ndarray:
        return self._dist_ss.copy()

    def backward(self, state_next, x_now, x_next):
        p, J, n = self.params, self.J, self.n
        S, X = self._split(state_next)
        w, P = np.ascontiguousarray(x_now[:J]), np.ascontiguousarray(x_now[J:])
        S_new, X_new, M_pol = (np.empty((J, n)) for _ in range(3))
        Mn, Sn, vn = (np.empty(J) for _ in range(3))
        status = kernels.bellman(S, X, self.v_grid, m_grid(S, X, self.v_grid, p.theta, self.n_m),
                                 p.theta, self._log_chi, P, w, p.alpha_agg, p.beta, p.omega,
                                 p.r_inv, p.weights, S_new, X_new, M_pol, Mn, Sn, vn,
                                 *kernels.NO_DESTINATIONS)
        if status != kernels.OK:
            raise SolverConvergenceError(
                f"planner's backward step failed: {STATUS.get(status, 'unknown')}",
                residuals={"min_P": float(np.min(P))}, n_iter=1)
        return np.r_[S_new.ravel(), np.log(X_new).ravel()], (M_pol, Mn, S, X, X_new)

    def initial(self, state0, before=None):
        """dist_0 after a shock that arrives with vanishing probability (DFM section 5,
        B.51 with p -> 0): the households of the steady state before the shock (mass
        and promises on the same node layout) are at the shock's first date where the
        contingent plan sends them, with date-0 surplus functions (S_0, Xi_0) =
        ``state0``. Their consumption at the date before is the earlier steady state's,
        so each origin node's M solves theta Sbar_i(M) - M = beta R Xi_i(v), Xi_i(v)
        its P_i C_i(v) then (neither the old promises kept nor the plan re-optimised);
        newborns' with beta R Lambda_i; then the usual lotteries. ``before``: (dist,
        Xi) (J, n_v) of that steady state (default this block's own: at its own state0
        the step leaves dist unchanged)."""
        dist, xi = (self._dist_ss, self._policy_ss[4]) if before is None else before
        S, X = self._split(state0)
        M, Mn = self._contingent(S, X, xi)
        return self.forward(np.asarray(dist, float).ravel(), (M, Mn, S, X, None))

    def _contingent(self, S, X, xi):
        """(M (J, n), M^n (J,)) of the contingent date-0 promises (``initial``)."""
        p, J, n = self.params, self.J, self.n
        bR = p.beta / p.r_inv
        targets = np.ascontiguousarray(np.c_[bR * np.asarray(xi, float), bR * p.weights])
        M = np.empty((J, n + 1))
        status = kernels.contingent_policies(S, X, self.v_grid,
                                             m_grid(S, X, self.v_grid, p.theta, self.n_m),
                                             p.theta, self._log_chi, targets, M)
        if status != kernels.OK:
            raise SolverConvergenceError(
                f"planner's contingent promises failed: {STATUS.get(status, 'unknown')}",
                residuals={}, n_iter=1)
        return np.ascontiguousarray(M[:, :n]), np.ascontiguousarray(M[:, n])

    def initial_jvp(self, d_state):
        """(N, k) derivative of :meth:`initial` at the steady state along the columns of
        d_state (2 N, k): in closed form (``period_jvp.mass_jvp``, every node's D at its
        target) or by central differences (``linearisation="differences"``)."""
        if self.linearisation == "analytic":
            c = self._analytic()
            return self._mass_jvp(c["contingent"], d_state, None, True)
        out = np.empty((self.N, d_state.shape[1]))
        for c in range(d_state.shape[1]):
            size = float(np.max(np.abs(d_state[:, c])))
            if size == 0.0:
                out[:, c] = 0.0
                continue
            h = self.eps / size
            out[:, c] = (self.initial(self._state_ss + h * d_state[:, c])
                         - self.initial(self._state_ss - h * d_state[:, c])) / (2.0 * h)
        return out

    def forward(self, dist, policy):
        K, Nb = self._matrices(policy)
        return K.T @ dist + Nb.T @ dist.reshape(self.J, self.n).sum(axis=1)

    def aggregate(self, dist, policy):
        D = dist.reshape(self.J, self.n)
        return np.r_[np.sum(D * policy[4], axis=1), D.sum(axis=1)]

    def _matrices(self, policy):
        M, Mn, S, X, _ = policy
        K, Nb, _, _ = transition_matrices(self.params, M, Mn, S, X, self.v_grid, X_lot=X)
        return K, Nb

    def _split(self, state):
        J, n = self.J, self.n
        return (np.ascontiguousarray(state[:J * n].reshape(J, n)),
                np.ascontiguousarray(np.exp(state[J * n:]).reshape(J, n)))

    # ---- linearised at the steady state ----------------------------------------------
    # analytic (default): the sweep's Jacobian (``linearize``) and its input columns for
    # the state, ``period_jvp`` for the mass; "differences": central differences of a
    # whole period (the reference, module docstring)
    def backward_jvp(self, d_state_next, dx_now, dx_next):
        k = next(a.shape[1] for a in (d_state_next, dx_now, dx_next) if a is not None)
        if self.linearisation == "analytic":
            c = self._analytic()
            ds = np.zeros((2 * self.N, k)) if d_state_next is None else d_state_next
            d_state = c["Jm"] @ ds + c["E"] @ (c["Nb"] @ ds)
            if dx_now is not None:
                d_state += c["Jx"] @ dx_now
            return d_state, ("analytic", ds, dx_now, d_state)
        return self._backward_differences(d_state_next, dx_now, k)

    def _backward_differences(self, d_state_next, dx_now, k):
        d_state = np.empty((2 * self.N, k))
        d_dist = np.empty((self.N, k))
        d_y = np.empty((len(self.outputs), k))
        for c in range(k):
            ds = np.zeros(2 * self.N) if d_state_next is None else d_state_next[:, c]
            dx = np.zeros(self._x_ss.size) if dx_now is None else dx_now[:, c]
            size = max(float(np.max(np.abs(ds), initial=0.0)), float(np.max(np.abs(dx))))
            if size == 0.0:
                d_state[:, c], d_dist[:, c], d_y[:, c] = 0.0, 0.0, 0.0
                continue
            h = self.eps / size
            hi = self._period(self._state_ss + h * ds, self._x_ss + h * dx)
            lo = self._period(self._state_ss - h * ds, self._x_ss - h * dx)
            for out, a, b in zip((d_state, d_dist, d_y), hi, lo, strict=True):
                out[:, c] = (a - b) / (2.0 * h)
        return d_state, (d_dist, d_y)

    def forward_jvp(self, d_policy):
        if not isinstance(d_policy[0], str):  # differences: (d dist, d Y) already
            return d_policy[0]
        _, ds, dx_now, _ = d_policy
        c = self._analytic()
        dlnP = None if dx_now is None else dx_now[self.J:] / self.sol.P[:, None]
        return self._mass_jvp(c["policy"], ds, dlnP, False)

    def aggregate_jvp(self, d_policy):
        if not isinstance(d_policy[0], str):
            return d_policy[1]
        d_state = d_policy[3]
        k = d_state.shape[1]
        c = self._analytic()
        dE = (c["spend"][:, None] * d_state[self.N:]).reshape(self.J, self.n, k).sum(axis=1)
        return np.vstack([dE, np.zeros((self.J, k))])

    def _analytic(self) -> dict:
        """The closed-form linearisation's pieces at the steady state: the sweep's
        Jacobian (Jm, plus newborn rows E times Nb: ``second_best.sweep_jacobian``), its
        input columns Jx (2 N, 2 J): S_i(v) moves one for one with (1 + alpha) w_i; P_i
        moves a node's M by d ln P_i / dV at a fixed continuation (B.46), hence ln Xi by
        d ln D / dM times that and S by -Xi d ln Xi + (omega / R) dSbar / dM times that;
        the steady-state and contingent policies' destinations (``period_jvp.node_pass``,
        once: every horizon's jvps reuse them); spending weights dist Xi."""
        if self._closed is not None:
            return self._closed
        p, J, n, N = self.params, self.J, self.n, self.N
        M_pol, Mn, S, X, X_new = self._policy_ss
        Jm, Nb = sweep_jacobian(p, S, X, self.v_grid, M_pol, Mn)
        nodes = period_jvp.node_pass(S, X, self.v_grid, M_pol, Mn, p.theta, self._log_chi)
        dV, dlnD, dSbar = period_jvp.node_slopes(nodes, p.beta, p.omega)
        P = np.asarray(self.sol.P, float)
        per_p = 1.0 / (dV * P[:, None])  # dM per unit dP_i at each node of origin i
        dlnX = dlnD * per_p
        dS = -X_new * dlnX + p.omega * p.r_inv * dSbar * per_p
        node = np.arange(N)
        origin = node // n
        Jx = sparse.csr_matrix(
            (np.r_[np.full(N, 1.0 + p.alpha_agg), dS.ravel(), dlnX.ravel()],
             (np.r_[node, node, N + node], np.r_[origin, J + origin, J + origin])),
            shape=(2 * N, 2 * J))
        M0, Mn0 = self._contingent(S, X, X_new)
        dist = self._dist_ss.reshape(J, n)
        self._closed = {"Jm": Jm, "Nb": Nb, "E": newborn_rows(J, n), "Jx": Jx,
                        "policy": nodes,
                        "contingent": period_jvp.node_pass(S, X, self.v_grid, M0, Mn0,
                                                           p.theta, self._log_chi),
                        "S": S, "X": X, "dist": np.ascontiguousarray(dist),
                        "pop": dist.sum(axis=1), "spend": (dist * X_new).ravel()}
        return self._closed

    def _mass_jvp(self, nodes, ds, dlnP, contingent):
        """(N, k) next period's mass moved along continuation directions ds (2 N, k) and
        d ln P (J, k) or None (``period_jvp.mass_jvp``), policies' ``nodes``."""
        p, J, n, N = self.params, self.J, self.n, self.N
        c = self._analytic()
        k = ds.shape[1]
        S, X = c["S"], c["X"]
        out = np.zeros((J, n, k))
        period_jvp.mass_jvp(
            S, X, self.v_grid, nodes, p.theta, p.beta, p.omega, c["dist"], c["pop"],
            contingent, np.ascontiguousarray(ds[:N].reshape(J, n, k)),
            np.ascontiguousarray(ds[N:].reshape(J, n, k)),
            np.zeros((J, k)) if dlnP is None else np.ascontiguousarray(dlnP), out)
        return out.reshape(N, k)

    def expectation_step(self, E):
        return self._lambda @ E

    def output_vectors(self):
        X_now = self._policy_ss[4].ravel()
        return np.hstack([self._where * X_now[:, None], self._where])

    def _period(self, state_next, x_now):
        """(state_t, dist_{t+1}, Y_t) of one period from the steady-state distribution."""
        state, policy = self.backward(state_next, x_now, x_now)
        return state, self.forward(self._dist_ss, policy), self.aggregate(self._dist_ss, policy)


def _check_solution(solution) -> None:
    problems = []
    if not isinstance(solution, Solution):
        problems.append(Violation("solution", "must be a planner Solution",
                                  type(solution).__name__))
    else:
        if solution.params.allocation != "second_best" or solution.component is None:
            problems.append(Violation("solution.params.allocation", "must be 'second_best' (the "
                                      "transition block is the second best's)",
                                      solution.params.allocation))
        if not solution.converged:
            problems.append(Violation("solution.converged", "must be True", False))
    if problems:
        raise InvalidParamsError("PlannerBlock", problems)
