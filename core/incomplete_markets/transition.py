"""The workhorse's household block as a transition block (``core.transitions.HetBlock``).

Households face location prices that change over time: in period t,
``P_jt c + a' = (1 + r_t) a + w_jt e_s + T_jt`` (DFM eq. 44 with dated prices;
w_jt is the wage per efficiency unit, ``Solution.wage * Solution.w`` at the
steady state), save a', draw e', then choose next period's location by logit on
v_{t+1} (B.15). Inputs, in this order: w_0..w_{J-1}, P_0..P_{J-1},
T_0..T_{J-1}, r (r_t is the return on assets held into period t). Outputs, by
location j of residence at t: A_j = int a' dphi_jt (end-of-period assets, what
the bond and capital markets clear), C_j = int c dphi_jt (real consumption),
L_j = int dphi_jt (population at the start of t), H_j = int e dphi_jt
(effective labour).

Backward step: ``kernels.migration_block`` on (c_{t+1}, v_{t+1}) at P_{t+1},
r_{t+1}, then one ``kernels.egm_step`` at (w_t, P_t, T_t, r_t): the steady
state's own fixed-point map with dated prices. Its linearisation at the steady
state is Phi_z (``steady_derivatives.fixed_point_entries``, closed form) in the
next period's (c, v) (c alone with one location: values then do not move
policies), plus the derivatives in x_t and x_{t+1} (central
differences of one step, step EPS_INPUT relative: no iteration, so no solver
noise). Savings follow from the budget, d a' = a dr + dy - c dP - P dc where
a' is inside (a_low, a_max); the distribution's step is linearised in
``transition_kernels.forward_jvp``. The grid is the steady state's; with the
borrowing limit on face value it would move with r, which is not supported.

For the fake-news algorithm the block also offers its backward pass over all
horizons in one compiled kernel (``fake_news_backward``: Phi_z products, savings,
aggregates and the distribution's jvp, no Python per horizon; with one location
``transition_kernels.one_location_backward``, Phi_z in factored form) and its
expectation vectors (``expectation_vectors``: the distribution's step read
backward, migration, Pi and the lottery, instead of the sparse Lambda'); both equal
the jvp-by-jvp reference path to rounding
(tests/core/incomplete_markets/test_transition_compiled.py). With one location it
derives C, L and H from A (``output_identities``: the aggregate budget), so their
Jacobians cost no expectation vectors or product of their own
(tests/core/incomplete_markets/test_transition_identity.py). The derivatives in
inputs are computed on first use, for the inputs shocked only.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ..errors import InvalidParamsError, SolverConvergenceError, Violation
from ..transitions import OutputIdentity, Path, nonlinear_path
from . import dist_kernels, kernels, transition_kernels
from .household import _STATUS_TEXT, _transition_matrix, forward_step
from .result import Solution
from .steady_derivatives import fixed_point_entries

__all__ = ["HouseholdBlock", "transition_path"]

EPS_INPUT = 1e-6  # central-difference step of one backward step in an input (relative)
PRICE_KINDS = ("w", "P", "T")
OUTPUT_KINDS = ("A", "C", "L", "H")


def transition_path(block: HouseholdBlock, x_path: np.ndarray,
                    dist0: np.ndarray | None = None) -> Path:
    """The household block's nonlinear path at given price paths x_path (T, 3J + 1)
    (inputs in ``block.inputs`` order; steady state before and after); checks that
    price indices stay positive and 1 + r_t > 0."""
    x = np.asarray(x_path, dtype=float)
    if x.ndim == 2 and x.shape[1] == len(block.inputs):
        J = block.n_loc
        problems = []
        bad = np.argwhere(~(x[:, J:2 * J] > 0.0))
        if bad.size:
            t, j = bad[0]
            problems.append(Violation(f"x_path[{t}] P_{j}", "must be > 0", float(x[t, J + j])))
        bad = np.flatnonzero(~(x[:, -1] > -1.0))
        if bad.size:
            problems.append(Violation(f"x_path[{bad[0]}] r", "must be > -1", float(x[bad[0], -1])))
        if problems:
            raise InvalidParamsError("transition_path", problems)
    return nonlinear_path(block, x, dist0)


class HouseholdBlock:
    """The household block around a steady state ``Solution`` (module docstring)."""

    def __init__(self, solution: Solution):
        _check_solution(solution)
        p = solution.params
        self.sol = solution
        J, S, n = solution.c.shape
        self.n_loc, self.shape, self.N = J, (J, S, n), J * S * n
        self.inputs = (*(f"{k}_{j}" for k in PRICE_KINDS for j in range(J)), "r")
        self.outputs = tuple(f"{k}_{j}" for k in OUTPUT_KINDS for j in range(J))
        self._x_ss = np.r_[solution.wage * np.asarray(solution.w, float),
                           np.asarray(solution.P, float), np.asarray(solution.T, float),
                           solution.r]
        self._e = np.asarray(p.e_grid, dtype=float)
        self._chi = np.ascontiguousarray(p.chi, dtype=float)
        self._log_chi = np.log(self._chi)
        self._a = np.ascontiguousarray(solution.a_grid)
        self._linear = None

    # ---- nonlinear --------------------------------------------------------------------
    def steady_inputs(self) -> np.ndarray:
        return self._x_ss.copy()

    def steady_backward(self):
        return np.ascontiguousarray(self.sol.c), np.ascontiguousarray(self.sol.v)

    def steady_distribution(self) -> np.ndarray:
        return self.sol.dist.ravel().copy()

    def backward(self, state_next, x_now, x_next):
        c_n, v_n = state_next
        status, c, v, ap, mu = self._step(c_n, v_n, x_now, x_next, True)
        if status != kernels.OK:
            raise SolverConvergenceError(
                f"backward step failed: {_STATUS_TEXT[status]}",
                residuals={"min_P": float(np.min(x_now[self.n_loc:2 * self.n_loc])),
                           "r": float(x_now[-1])}, n_iter=1)
        return (c, v), (c, ap, mu)

    def forward(self, dist, policy):
        _, ap, mu = policy
        return forward_step(dist.reshape(self.shape), ap, self._a, self.sol.params.Pi, mu)

    def aggregate(self, dist, policy):
        c, ap, _ = policy
        D = dist.reshape(self.shape)
        return np.concatenate([np.einsum("jsi,jsi->j", D, ap), np.einsum("jsi,jsi->j", D, c),
                               D.sum(axis=(1, 2)), np.einsum("jsi,s->j", D, self._e)])

    def _step(self, c_n, v_n, x_now, x_next, store_mu):
        p, J = self.sol.params, self.n_loc
        w, P, T, r = x_now[:J], x_now[J:2 * J], x_now[2 * J:3 * J], x_now[-1]
        P_n, r_n = np.ascontiguousarray(x_next[J:2 * J]), x_next[-1]
        y = np.ascontiguousarray(w[:, None] * self._e[None, :] + T[:, None])
        W, dW = np.empty_like(c_n), np.empty_like(c_n)
        mu = np.empty((*self.shape, J)) if store_mu else np.empty((1, 1, 1, 1))
        kernels.migration_block(v_n, c_n, P_n, self._chi, self._log_chi, p.theta, 1.0 + r_n,
                                p.gamma, W, dW, mu, store_mu)
        c, v, ap = c_n.copy(), v_n.copy(), np.empty_like(c_n)
        status, _, _ = kernels.egm_step(W, dW, self._a, y, np.ascontiguousarray(P), p.Pi,
                                        1.0 + r, p.beta * p.omega, p.gamma, c, ap, v,
                                        np.empty(self.shape[2]), True)
        return status, c, v, ap, mu

    # ---- linearised at the steady state ------------------------------------------------
    def backward_jvp(self, d_state_next, dx_now, dx_next):
        lin = self._linearisation()
        k = next(a.shape[1] for a in (d_state_next, dx_now, dx_next) if a is not None)
        dz = np.zeros((lin.n_z, k))
        if d_state_next is not None:
            dz += lin.phi @ d_state_next
        if dx_now is not None:
            dz += lin.now_times(dx_now)
        if dx_next is not None:
            dz += lin.next_times(dx_next)
        dc = dz[:self.N]
        dap = -lin.P_flat[:, None] * dc
        if dx_now is not None:
            J, (_, S, n) = self.n_loc, self.shape
            dw, dP, dT, dr = dx_now[:J], dx_now[J:2 * J], dx_now[2 * J:3 * J], dx_now[-1]
            dy = (dw[:, None, None, :] * self._e[None, :, None, None] + dT[:, None, None, :])
            dy = np.broadcast_to(dy, (J, S, n, k)).reshape(self.N, k)
            dP_flat = np.repeat(dP, S * n, axis=0)
            dap += lin.a_flat[:, None] * dr[None, :] + dy - dP_flat * lin.c_flat[:, None]
        dap *= lin.free[:, None]
        dv_next = None if d_state_next is None or self.n_loc == 1 else d_state_next[self.N:]
        return dz, (dc, dap, dv_next)

    def forward_jvp(self, d_policy):
        _, dap, dv_next = d_policy
        lin, k = self._linearisation(), dap.shape[1]
        dap_k = np.ascontiguousarray(dap.T).reshape(k, *self.shape)
        dv_k = (np.zeros_like(dap_k) if dv_next is None
                else np.ascontiguousarray(dv_next.T).reshape(k, *self.shape))
        out = np.empty_like(dap_k)
        transition_kernels.forward_jvp(self.sol.dist, lin.idx, self._a, self.sol.params.Pi,
                                       self.sol.mig, lin.pre, self.sol.params.theta, dap_k,
                                       dv_k, out)
        return out.reshape(k, self.N).T

    def aggregate_jvp(self, d_policy):
        dc, dap, _ = d_policy
        mass = self._linearisation().mass  # (J, N): the steady-state mass by location
        return np.vstack([mass @ dap, mass @ dc, np.zeros((2 * self.n_loc, dc.shape[1]))])

    def expectation_step(self, E):
        return self._linearisation().T_transpose @ E

    def expectation_vectors(self, o, n):
        """(m, n, N): the expectation vectors (Lambda_ss^t o)', t < n, of o (N, m) in one
        kernel (``transition_kernels.expectation_vectors``; ``fake_news``)."""
        lin = self._linearisation()
        out = np.empty((o.shape[1], n, self.N))
        transition_kernels.expectation_vectors(lin.idx, lin.wlo, self.sol.params.Pi,
                                               self.sol.mig, np.ascontiguousarray(o), out)
        return out

    def fake_news_backward(self, T, dx, rows):
        """The fake-news backward pass (``fake_news._backward_pass``) compiled in one
        kernel (``transition_kernels.one_location_backward`` with one location, else
        ``fake_news_backward``): curlyY (T, len(rows), k) and curlyD (N, T, k) for input
        directions dx (n_in, k), outputs ``rows``. With one location curlyD is a view of
        a (T, k, N) array (each horizon's and direction's column written contiguously;
        ``fake_news`` reshapes it to (N, T k) without a copy)."""
        lin, J = self._linearisation(), self.n_loc
        dx = np.asarray(dx, dtype=float)
        z0, (_, dap0, _) = self.backward_jvp(None, dx, None)
        z_add = lin.next_times(dx)
        k = dx.shape[1]
        y = np.empty((T, 2 * J, k))
        p = self.sol.params
        if J == 1:
            d = np.empty((T, k, self.N))
            transition_kernels.one_location_backward(
                *lin.one_location(), p.Pi, np.ascontiguousarray(z0.T),
                np.ascontiguousarray(dap0.T), np.ascontiguousarray(z_add.T), y, d)
            curly_d = d.transpose(2, 0, 1)
        else:
            curly_d = np.empty((self.N, T, k))
            phi = lin.phi
            transition_kernels.fake_news_backward(
                phi.indptr, phi.indices, phi.data, np.ascontiguousarray(z0),
                np.ascontiguousarray(dap0), np.ascontiguousarray(z_add), lin.P_flat,
                lin.free, self.sol.dist, lin.idx, self._a, p.Pi, self.sol.mig, lin.pre,
                p.theta, y, curly_d)
        curly_y = np.zeros((T, len(rows), k))  # L and H do not move
        for out, row in enumerate(rows):
            if row < 2 * J:
                curly_y[:, out] = y[:, row]
        return curly_y, curly_d

    def output_identities(self):
        """With one location, C, L and H from A (``transitions.OutputIdentity``; none
        with several). Summing the budget P_t c + a' = (1 + r_t) a + w_t e + T_t over
        dphi_t: P_t C_t + A_t = (1 + r_t) int a dphi_t + w_t H_t + T_t L_t, where
        int a dphi_t = A_{t-1} for t >= 1 (Young's lottery keeps the mean of a' on
        [a_low, a_max], as do e' and deaths, whose newborns inherit assets) and dphi_0 is
        the steady state's; L and H stay put (mass; the income states' stationary
        shares). So P dC_t = -dA_t + (1 + r) dA_{t-1} + a_ss dr_t + H dw_t + L dT_t -
        C dP_t, with a_ss = int a dphi_ss and L, H, C at the steady state. The linearised
        block keeps this exactly (the budget holds node by node at the steady state;
        savings move by it on free nodes and not at all on the bounds, where c takes
        the whole change), so it agrees with C's own fake-news Jacobian to rounding
        (tests/core/incomplete_markets/test_transition_identity.py)."""
        if self.n_loc > 1:
            return ()
        D = self.sol.dist.ravel()
        lin = self._linearisation()
        P, R = float(self.sol.P[0]), 1.0 + float(self.sol.r)
        e_flat = np.broadcast_to(self._e[None, :, None], self.shape).ravel()
        direct = {"w_0": D @ e_flat / P, "P_0": -(D @ lin.c_flat) / P, "T_0": D.sum() / P,
                  "r": D @ lin.a_flat / P}
        return (OutputIdentity(output="C_0", base="A_0", now=-1.0 / P, lag=R / P,
                               direct=direct),
                OutputIdentity(output="L_0", base="A_0"), OutputIdentity(output="H_0", base="A_0"))

    def output_vectors(self):
        lin = self._linearisation()
        ind = lin.where.T.toarray()  # (N, J)
        e_flat = np.broadcast_to(self._e[None, :, None], self.shape).ravel()
        return np.hstack([ind * lin.ap_flat[:, None], ind * lin.c_flat[:, None], ind,
                          ind * e_flat[:, None]])

    def _linearisation(self):
        if self._linear is None:
            self._linear = _Linear(self)
        return self._linear


class _Linear:
    """Internal: the steady-state derivatives a HouseholdBlock's jvps use."""

    def __init__(self, block: HouseholdBlock):
        sol, p = block.sol, block.sol.params
        J, S, n = block.shape
        N = block.N
        self.c_flat = sol.c.ravel()
        self.ap_flat = sol.a_next.ravel()
        self.a_flat = np.broadcast_to(block._a[None, None, :], block.shape).ravel()
        self.P_flat = np.repeat(np.asarray(sol.P, float), S * n)
        self.free = ((self.ap_flat > block._a[0]) & (self.ap_flat < block._a[-1])).astype(float)
        self.where = sparse.csr_matrix((np.ones(N), (np.repeat(np.arange(J), S * n),
                                                     np.arange(N))), shape=(J, N))
        self.mass = self.where.multiply(sol.dist.ravel()[None, :]).tocsr()
        # with one location values do not feed back into consumption (logit shares are
        # one): the linearised backward state is consumption alone
        keep = 2 * N if J > 1 else N
        self.n_z = keep
        self._entries, self._phi = _phi_entries(block), None
        # input columns on first use (an input nobody shocks costs no EGM steps)
        self._block, self._keep = block, keep
        n_in = len(block.inputs)
        self._now, self._next = np.zeros((keep, n_in)), np.zeros((keep, n_in))
        self._have = np.zeros(len(block.inputs), dtype=bool)
        self.idx = np.empty(block.shape, dtype=np.int64)
        self.wlo = wlo = np.empty(block.shape)
        dist_kernels.lottery(sol.a_next, block._a, self.idx, wlo)
        self.pre = np.empty(block.shape)
        dist_kernels.pre_migration(sol.dist, self.idx, wlo, p.Pi, self.pre)
        self._T_transpose = None
        self._one = None

    @property
    def phi(self):
        """Phi_z (CSR, n_z x n_z), built on first use (with one location the compiled
        path reads its entries in factored form instead)."""
        if self._phi is None:
            rows, cols, vals = self._entries
            N2 = 2 * self._block.N
            phi = sparse.csr_matrix((vals, (rows, cols)), shape=(N2, N2))
            self._phi = phi[:self.n_z, :self.n_z].tocsr()
            if self._block.n_loc > 1:  # only one location reads the entries again
                self._entries = None
        return self._phi

    @property
    def T_transpose(self):
        """Lambda_ss' (CSR; ``expectation_step``), built on first use."""
        if self._T_transpose is None:
            b = self._block
            T, _, _ = _transition_matrix(self.idx, self.wlo, b.sol.params.Pi, b.sol.mig)
            self._T_transpose = T.T.tocsr()
        return self._T_transpose

    def one_location(self):
        """The arrays of ``transition_kernels.one_location_backward`` (one location):
        Phi_z in factored form (``one_location_factors``; node as a flat index), the
        savings' response f = -P on free nodes, the steady-state distribution, the
        lottery's mass moved per unit of savings w_q and its lower node lo (flat)."""
        if self._one is None:
            b = self._block
            sol, p = b.sol, b.sol.params
            R, P = 1.0 + sol.r, float(np.asarray(sol.P, float)[0])
            c = sol.c.ravel()
            h = R * (-p.gamma * (c ** (-p.gamma) / P) / c)
            N, n = b.N, b.shape[2]
            node0, coef0, coef1 = np.empty(N, dtype=np.int64), np.empty(N), np.empty(N)
            transition_kernels.one_location_factors(*self._entries, h, p.Pi, n, node0,
                                                    coef0, coef1)
            start = np.arange(N) // n * n
            i = self.idx.ravel()
            dist = np.ascontiguousarray(sol.dist.ravel())
            w_q = dist / (b._a[i + 1] - b._a[i])
            self._one = (start + node0, coef0, coef1, h, -self.P_flat * self.free, dist, w_q,
                         start + i)
        return self._one

    def now_times(self, dx):
        """d (c_t, v_t) / d x_t times dx (n_in, k)."""
        self._columns(dx)
        return self._now @ dx

    def next_times(self, dx):
        """d (c_t, v_t) / d x_{t+1} times dx (n_in, k)."""
        self._columns(dx)
        return self._next @ dx

    def _columns(self, dx):
        need = np.flatnonzero(np.any(dx != 0.0, axis=1) & ~self._have)
        if need.size:
            now, nxt = _input_columns(self._block, need)
            self._now[:, need], self._next[:, need] = now[:self._keep], nxt[:self._keep]
            self._have[need] = True


def _phi_entries(block: HouseholdBlock):
    """Phi_z: d (c_t, v_t) / d (c_{t+1}, v_{t+1}) at the steady state, as COO entries
    (rows, cols, vals) of a 2N x 2N matrix (``fixed_point_entries``)."""
    sol, p, N = block.sol, block.sol.params, block.N
    J, S, _ = block.shape
    x = block._x_ss
    y = np.ascontiguousarray(x[:J, None] * block._e[None, :] + x[2 * J:3 * J, None])
    cap = 10 * S * J * N
    rows, cols = np.empty(cap, dtype=np.int64), np.empty(cap, dtype=np.int64)
    vals = np.empty(cap)
    nnz = fixed_point_entries(np.ascontiguousarray(sol.c), np.ascontiguousarray(sol.v),
                              np.ascontiguousarray(sol.a_next), block._a, y,
                              np.ascontiguousarray(x[J:2 * J]), p.Pi, block._chi, p.theta,
                              1.0 + sol.r, p.beta * p.omega, p.gamma, rows, cols, vals)
    return rows[:nnz].copy(), cols[:nnz].copy(), vals[:nnz].copy()


def _input_columns(block: HouseholdBlock, which):
    """d (c_t, v_t) / d x_t and / d x_{t+1} at the steady state for the inputs
    ``which`` (2N x len(which) each), by central differences of one backward step
    (EPS_INPUT relative to max(1, |x_i|))."""
    c, v = block.steady_backward()
    x = block._x_ss
    n_in, J = x.size, block.n_loc
    now, nxt = np.zeros((2 * block.N, len(which))), np.zeros((2 * block.N, len(which)))
    for col, i in enumerate(which):
        h = EPS_INPUT * max(1.0, abs(x[i]))
        dx = np.zeros(n_in)
        dx[i] = h
        now[:, col] = _central(block, c, v, x + dx, x, x - dx, x, h)
        if J <= i < 2 * J or i == n_in - 1:  # P_{t+1} and r_{t+1} enter the continuation
            nxt[:, col] = _central(block, c, v, x, x + dx, x, x - dx, h)
    return now, nxt


def _central(block, c, v, xa, xa_next, xb, xb_next, h):
    outs = []
    for x_now, x_next in ((xa, xa_next), (xb, xb_next)):
        status, c2, v2, _, _ = block._step(c, v, x_now, x_next, False)
        if status != kernels.OK:
            raise SolverConvergenceError(
                f"backward step failed at a perturbed input: {_STATUS_TEXT[status]}",
                residuals={}, n_iter=1)
        outs.append(np.r_[c2.ravel(), v2.ravel()])
    return (outs[0] - outs[1]) / (2.0 * h)


def _check_solution(solution) -> None:
    problems = []
    if not isinstance(solution, Solution):
        problems.append(Violation("solution", "must be an incomplete_markets Solution",
                                  type(solution).__name__))
    else:
        if solution.params.limit_on_face_value:
            problems.append(Violation(
                "solution.params.limit_on_face_value", "must be False for transitions (a limit "
                "on face value moves the (1+r)-form grid with r_t)", True))
        if not solution.converged:
            problems.append(Violation("solution.converged", "must be True", False))
    if problems:
        raise InvalidParamsError("HouseholdBlock", problems)
