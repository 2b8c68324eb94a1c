"""General-equilibrium transitions of the spatial closure (Donald-Fukui-Miyauchi
section 5, appendix B.3): linear impulse responses from the household block's
fake-news Jacobians and the goods-market block, and nonlinear perfect-foresight
paths by quasi-Newton steps with the GE Jacobian H_U (Auclert, Bardoczy,
Rognlie and Straub 2021, section 4), ending at the old steady state (transitory
shocks) or at a new one (permanent shocks, solved by ``solve_spatial``).

Unknowns of period t, u_t = (log w_1t..log w_{J-1}t, log(L_1t/L_0t)..log(L_{J-1}t/
L_0t), r_t): the steady-state block's coordinates (``spatial_outer``: w_0t = 1 is
the numeraire in every period, populations L_t = softmax sum to one) with r itself
for x_r. r_t is the return on assets held into t, set when they were bought: as in
the bond closure (``transition_ge``), r_0 is the initial steady state's and
r_1..r_{T-1} are unknowns. Targets of period t: the steady-state block's residuals
(``SpatialBlock._closed_forms``, one function for both) at period t's unknowns, its
productivities A_t and the household's outputs at t,

    goods_it = log(sum_j lam_ijt P_jt C_jt / (w_it H_it)),   i = 1..J-1   (B.23)
    pop_jt   = log(integral dphi_jt / L_jt),                  j = 1..J-1   (B.24)
    bond_t   = sum_j integral a' dphi_jt,                     t = 0..T-2

each minus its value at the terminal steady state (so a zero shock is the steady
state exactly and a permanent shock's path can end at its new steady state). The
household at t sees w_t, P_t = P(w_t, L_t, A_t) (B.22), T_t = T(w_t, L_t) (47) and r_t.
Goods market 0 and population 0 are redundant: populations sum to one and Walras'
law, sum_i (demand_i - w_i H_i) = (1 + r_t) B_{t-1} - B_t + sum_j (pop_j - L_j) T_j,
clears the numeraire's market when the others, bonds and populations clear. The
bond market at T - 1 would need r_T, which the horizon fixes at the terminal r.

Linear: per period the closed forms are time-invariant at the steady state, so
with M_u, M_z (targets at fixed household outputs), P_u, P_z (household inputs)
and M_h (targets in household outputs, closed form, ``SpatialBlock._market_h``),
    H_U = I_T (x) M_u + (M_h J P_u),   H_Z = I_T (x) M_z + (M_h J P_z),
where J is the household's sequence-space Jacobian; M_h J P_u is asked of the
fake-news algorithm directly (``ProjectedBlock``): 2J - 1 input directions and
2J - 1 target vectors (plus the household outputs to report), instead of the
3J + 1 inputs and 4J outputs of J itself. Then dU = -H_U^-1 H_Z dZ. ``linear`` takes
shocks that are over by T (the terminal condition is this steady state); a permanent
shock is ``linear_from`` on the transition built around the NEW steady state, whose
shock is the old distribution and r_0 (their effects: expectation vectors and the r_0
column of the household Jacobian), so that the linear path ends where the nonlinear
one does.

Cost in J (N = J S n_a household states): the backward pass is T sparse products
of Phi_z (nnz ~ S J N) with 2J - 1 directions, O(T S^2 J^3 n_a); the fake-news
product (2J - 1) T x N by N x T (2J - 1), O(T^2 S n_a J^3); the LU of H_U,
((2J - 1) T)^3 / 1.5 flops, O((J T)^3): at J = 48 and T = 300 the LU (28,500^2,
6.5 GB) dominates; memory grows like J^2 T^2. A nonlinear iteration costs one
household path (T EGM steps, O(T S J N)) and a solve with the LU. Measured on the
synthetic 48-location economy (S = 1; ``examples/ma_permanent_shock.py`` on 2 cores
shared with other jobs): n_a = 100, T = 150: construction 163 s, peak resident
memory 3.7 GB (the LU 1.6 GB); n_a = 200, T = 200: 562 s, 7.1 GB (LU 2.9 GB), and the
nonlinear permanent-shock path 4.6 s (4 quasi-Newton steps to 4e-12). Profile at
n_a = 100, T = 60: fake-news product 47%, backward pass 42% (Phi_z products 27%, the
distribution's jvp 11%), LU 6%. The projected household Jacobian is placed into H_U
output by output as the fake-news algorithm yields it (``_assemble``), so it never
exists whole: peak memory is about 0.7 GB (the steady states) + H_U (8 (2J-1)^2 T^2
bytes: 6.5 GB at T = 300) + curlyD (8 N T (2J-1): 2.2 GB) + chunks (< 1 GB).
``benchmarks/transitions_spatial.py --economy48``, n_a = 200, 2 cores shared (load
5-9): T = 50, 100, 150, 300: household Jacobians 49, 252, 458, 1856 s, LU 5, 44,
119, 648 s, peak resident memory 1.7, 3.2, 4.4, 10.5 GB (H_U 0.2, 0.7, 1.6, 6.5 GB);
the permanent-shock path 3.8, 6.9, 7.9, 12.5 s (4 quasi-Newton steps), its NumPy
peak 0.2, 0.4, 0.6, 1.2 GB (T = 50 and 100 with earlier, slower kernels). At T = 300
the fake-news product alone is (2J-1)^2 (T-1) T N 2 = 1.5e13 flops, as many as the
LU, and the backward pass about 1.8 s a horizon on the loaded machine.

Nonlinear: U <- U - H_U^-1 F(U), one household path per iteration, until max |F| <
tol; for a permanent shock the household's terminal state and prices are the new
steady state's, the initial distribution and r_0 the old one's.

Determinacy. The method needs a unique path back to the steady state: H_U must stay
well conditioned as T grows (``condition``). With agglomeration that need not hold
although the steady state is unique: in the synthetic economy on its first three
states (AL, AZ, AR; n_a = 50), where agglomeration shrinks AZ to 2.8% of the
population (30% without it) and 86% of households sit at the borrowing limit, H_U's
smallest LU pivot falls from 1e-5 to 2e-9 as T goes from 50 to 300, linear responses
to a transitory shock grow until T and change with T, and quasi-Newton steps leave
the admissible prices; H_U matches differences of the targets to 1e-10 there, so this
is the model's (the linearised dynamics have an unstable or indeterminate root), not
the Jacobian's (condition 4e7, 8e8, 7e10 at T = 50, 100, 200). Such economies are
reported as such (``condition``, the error of ``nonlinear``); the three-location test
economy (condition 5e3 at T = 100, 9e3 at T = 300) and the 48-location one are
determinate.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
from scipy.linalg import lu_factor, lu_solve
from scipy.linalg.lapack import dgecon

from ..errors import InvalidParamsError, SolverConvergenceError, Violation
from ..transitions import Path, ProjectedBlock, fake_news_chunks, fake_news_jacobian
from .params import Params
from .result import Solution
from .spatial_jacobian import central_jacobian
from .spatial_outer import SpatialBlock
from .transition import HouseholdBlock, transition_path

__all__ = ["SpatialImpulse", "SpatialTransition"]


@dataclass(frozen=True, slots=True)
class SpatialImpulse:
    """Deviations from the initial steady state along a transition: values (T, n) named
    by names (household outputs asked for, then the prices w_j, P_j, T_j and r); end
    (n,): the terminal steady state's deviation (zero for transitory shocks); n_iter:
    quasi-Newton steps (0 when linear); residual: max |target| at the end (0 when
    linear); path: the household's nonlinear path (None when linear)."""

    names: tuple[str, ...]
    values: np.ndarray
    end: np.ndarray
    n_iter: int = 0
    residual: float = 0.0
    path: Path | None = None

    def get(self, name: str) -> np.ndarray:
        """(T,) the deviation path of one variable."""
        if name not in self.names:
            raise InvalidParamsError("SpatialImpulse", [Violation(
                "name", f"must be one of {list(self.names)}", name)])
        return self.values[:, self.names.index(name)]


@dataclass(frozen=True, slots=True)
class _End:
    """The terminal steady state: its household block, unknowns, A and target values."""

    block: HouseholdBlock
    u: np.ndarray
    A: np.ndarray
    M: np.ndarray
    Y: np.ndarray


class SpatialTransition:
    """Transitions around a spatial steady state over T periods (module docstring).

    Construction computes and keeps the GE Jacobian's LU and the Jacobians of the
    household ``outputs`` (default all) in the unknowns; shocks' columns are computed
    on first use and kept. Shocks: ``A_j`` is the path of d log A[j, :] (location j's
    productivity in every market), (T,).
    """

    def __init__(self, solution: Solution, T: int, outputs: tuple[str, ...] | None = None):
        _check_solution(solution, T)
        self.sol, self.T = solution, int(T)
        self.block = HouseholdBlock(solution)
        self.J = J = solution.dist.shape[0]
        self.m = 2 * J - 1  # unknowns and targets per period
        self.tracked = tuple(self.block.outputs) if outputs is None else tuple(outputs)
        _check_outputs(self.block, self.tracked)
        self._sb = SpatialBlock(solution.params, solution.numerics, None)
        self._S = _h_selection(J)
        self.shock_names = tuple(f"A_{j}" for j in range(J))
        self.start = self._end_of(solution)
        h = self._S @ self.start.Y
        both = central_jacobian(lambda u: self._forms(u, h, self.start.A), self.start.u)
        self._M_u, self._P_u = both[:self.m], both[self.m:]
        x = np.r_[self.start.u[:-1], 0.0]
        C = np.vstack([self._sb._market_h(x, h) @ self._S, self._tracked_rows()])
        self._C = C
        self._names_in = (*(f"w_{j}" for j in range(1, J)),
                          *(f"logL_{j}" for j in range(1, J)), "r")
        clock = time.perf_counter()
        H_U = self._assemble(ProjectedBlock(self.block, self._P_u, C, self._names_in,
                                            self._target_names()))
        #: seconds of the construction's two costly parts (``benchmarks/``)
        self.seconds = {"household_jacobians": time.perf_counter() - clock}
        clock = time.perf_counter()
        # only the LU is kept (H_U itself: ``jacobian_times``): at J = 48 each is GBs
        self._norm1 = max(float(np.abs(H_U[:, lo:lo + 512]).sum(axis=0).max())
                          for lo in range(0, H_U.shape[1], 512))  # no |H_U| temporary
        self._lu = lu_factor(H_U, overwrite_a=True, check_finite=False)
        del H_U
        self.seconds["lu"] = time.perf_counter() - clock
        self._condition: float | None = None
        self._shock_cache: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    @property
    def condition(self) -> float:
        """1-norm condition estimate of H_U (LAPACK dgecon; module docstring), on first
        use: at J = 48, T = 150 the estimate took a minute (dgecon's scaled triangular
        solves), half the LU's time."""
        if self._condition is None:
            rcond, _ = dgecon(self._lu[0], self._norm1, norm="1")
            self._condition = float(np.inf if rcond == 0.0 else 1.0 / rcond)
        return self._condition

    @property
    def names(self) -> tuple[str, ...]:
        return (*self.tracked, *self.block.inputs)

    # ---- public ---------------------------------------------------------------------
    def linear(self, shock: dict[str, np.ndarray]) -> SpatialImpulse:
        """First-order responses to ``shock`` (name -> (T,) path) around the steady
        state; the shock must be over by T (the terminal condition is this steady
        state)."""
        dz = self._check_shock(shock)
        rhs = sum(self._shock(name)[0] @ path for name, path in dz.items())
        du = self._unflatten(-lu_solve(self._lu, rhs), 0.0)
        dp = du @ self._P_u.T
        dY = np.einsum("oits,si->to", self._G_tracked, du)
        for name, path in dz.items():
            _, P_z, G_z = self._shock(name)
            dp += path[:, None] * P_z[None, :]
            dY += np.einsum("ots,s->to", G_z, path)
        return SpatialImpulse(self.names, np.column_stack([dY, dp]), np.zeros(len(self.names)))

    def linear_from(self, initial: Solution) -> SpatialImpulse:
        """First-order path from ``initial`` (a steady state of this economy with other
        productivities A: the economy before a permanent shock) to this steady state,
        linearised around this one: the shock is the initial distribution and r_0,
        dist_0 - dist_ss moving outputs at t by E_t' (dist_0 - dist_ss) with the
        expectation vectors E_t = Lambda^t o of the targets. Deviations from
        ``initial`` as ``nonlinear``'s; end: this steady state's. Its gap to the
        nonlinear path is second order in the distance between the steady states."""
        init = self._end_of(initial, check=True)
        T, m = self.T, self.m
        d_dist = initial.dist.ravel() - self.block.steady_distribution()
        proj = ProjectedBlock(self.block, self._P_u, self._C, self._names_in,
                              self._target_names())
        E = proj.output_vectors()
        dz = np.empty((T, E.shape[1]))
        for t in range(T):
            dz[t] = E.T @ d_dist
            if t + 1 < T:
                E = proj.expectation_step(E)
        dz += (init.u[-1] - self.start.u[-1]) * self._G_r0.T
        du = self._unflatten(-lu_solve(self._lu, self._flatten_targets(dz[:, :m])), 0.0)
        dY = np.einsum("oits,si->to", self._G_tracked, du) + dz[:, m:]
        x_ss = self.block.steady_inputs()
        dx = du @ self._P_u.T
        dx[0, -1] += init.u[-1] - self.start.u[-1]
        rows = [self.block.outputs.index(n) for n in self.tracked]
        x_init = init.block.steady_inputs()
        end = np.r_[self.start.Y[rows] - init.Y[rows], x_ss - x_init]
        return SpatialImpulse(self.names, np.column_stack([dY, dx]) + end, end)

    def nonlinear(self, shock: dict[str, np.ndarray] | None = None,
                  terminal: Solution | None = None, tol: float = 1e-10,
                  max_iter: int = 30) -> SpatialImpulse:
        """The perfect-foresight path after ``shock`` (paths of d log A rows relative to
        the terminal economy's A) announced at date 0, ending at ``terminal`` (a
        steady state of this economy with other productivities A, e.g. after a
        permanent shock; default this one). Quasi-Newton steps with H_U."""
        dz = {} if shock is None else self._check_shock(shock)
        end = self.start if terminal is None else self._end_of(terminal, check=True)
        A_path = self._A_path(dz, end)
        U = self.flatten_unknowns(np.repeat(end.u[None], self.T, axis=0))
        r0, err = float(self.start.u[-1]), np.inf
        for it in range(max_iter + 1):
            try:
                F, path, x_path = self._evaluate(U, r0, A_path, end)
            except (InvalidParamsError, SolverConvergenceError) as e:
                raise SolverConvergenceError(
                    f"nonlinear spatial transition: quasi-Newton step {it} left the "
                    f"admissible prices ({e}); H_U's condition number is "
                    f"{self.condition:.1e} (module docstring: determinacy)",
                    residuals={"market": err}, n_iter=it) from e
            err = float(np.abs(F).max())
            if err < tol:
                rows = [self.block.outputs.index(n) for n in self.tracked]
                x_ss = self.block.steady_inputs()
                values = np.column_stack([path.outputs[:, rows] - self.start.Y[rows],
                                          x_path - x_ss])
                end_dev = np.r_[end.Y[rows] - self.start.Y[rows],
                                end.block.steady_inputs() - x_ss]
                return SpatialImpulse(self.names, values, end_dev, it, err, path)
            if it < max_iter:
                U = U - lu_solve(self._lu, F)
        raise SolverConvergenceError("nonlinear spatial transition did not converge",
                                     residuals={"market": err}, n_iter=max_iter)

    def targets(self, u: np.ndarray, shock: dict[str, np.ndarray] | None = None
                ) -> np.ndarray:
        """F at unknown paths u (T, 2J - 1) (columns as ``unknown_names``; r_0 is the
        steady state's whatever u[0, -1] says) after ``shock``, flattened as the rows
        of H_U: goods_1..goods_{J-1} and pop_1..pop_{J-1} at t = 0..T-1, then bonds at
        t = 0..T-2."""
        dz = {} if shock is None else self._check_shock(shock)
        U = self.flatten_unknowns(np.asarray(u, dtype=float))
        return self._evaluate(U, float(self.start.u[-1]), self._A_path(dz, self.start),
                              self.start)[0]

    def flatten_unknowns(self, u: np.ndarray) -> np.ndarray:
        """U, the columns of H_U, from unknown paths u (T, 2J - 1) (u[0, -1] dropped)."""
        return np.r_[u[:, :-1].T.ravel(), u[1:, -1]]

    def steady_unknowns(self) -> np.ndarray:
        """(T, 2J - 1) the steady state's unknowns in every period."""
        return np.repeat(self.start.u[None], self.T, axis=0)

    @property
    def unknown_names(self) -> tuple[str, ...]:
        return self._names_in

    def shock_jacobian(self, name: str) -> np.ndarray:
        """H_Z of one shock: d F / d (shock path), (rows of H_U, T)."""
        self._check_shock({name: np.zeros(self.T)})
        return self._shock(name)[0]

    # ---- internals ------------------------------------------------------------------
    def _A_path(self, dz, end):
        A_path = np.repeat(end.A[None], self.T, axis=0)
        for name, path in dz.items():
            A_path[:, int(name[2:])] *= np.exp(path)[:, None]
        return A_path

    def _forms(self, u: np.ndarray, h: np.ndarray, A: np.ndarray) -> np.ndarray:
        """(targets at household outputs h (2J - 1), household inputs (3J + 1)) at the
        period's unknowns u and productivities A: the steady-state block's closed forms."""
        J, m = self.J, self.m
        out = self._sb._closed_forms(np.r_[u[:-1], 0.0], h, A)
        w, T, P = out[m:m + J], out[m + J:m + 2 * J], out[m + 2 * J:m + 3 * J]
        return np.r_[out[:m], w, P, T, u[-1]]

    def _evaluate(self, U, r0, A_path, end):
        """Targets F(U) (flattened), the household path and its input paths."""
        T, m = self.T, self.m
        u = self._unflatten(U, r0)
        h0 = self._S @ end.Y
        x_path = np.empty((T, len(self.block.inputs)))
        with np.errstate(all="ignore"):  # a wild iterate: transition_path says what is wrong
            for t in range(T):
                x_path[t] = self._forms(u[t], h0, A_path[t])[m:]
        path = transition_path(end.block, x_path, self.block.steady_distribution())
        M = np.empty((T, m))
        for t in range(T):
            M[t] = self._forms(u[t], self._S @ path.outputs[t], A_path[t])[:m] - end.M
        return self._flatten_targets(M), path, x_path

    def _end_of(self, sol: Solution, check: bool = False) -> _End:
        if check:
            _check_terminal(self.sol, sol)
            block = HouseholdBlock(sol)
        else:
            block = self.block
        w, L = np.asarray(sol.w, float), np.asarray(sol.population, float)
        u = np.r_[np.log(w[1:] / w[0]), np.log(L[1:] / L[0]), sol.r]
        Y = block.aggregate(block.steady_distribution(), (sol.c, sol.a_next, sol.mig))
        A = np.asarray(sol.params.A, dtype=float)
        M = self._forms(u, self._S @ Y, A)[:self.m]
        return _End(block, u, A, M, Y)

    def _shock(self, name: str):
        """(H_z (rows of F, T), P_z (n_in,), household outputs' Jacobian (n_tr, T, T))."""
        if name not in self._shock_cache:
            j = int(name[2:])

            def forms(e):
                A = self.start.A.copy()
                A[j] *= np.exp(e[0])
                return self._forms(self.start.u, self._S @ self.start.Y, A)

            both = central_jacobian(forms, np.zeros(1))
            M_z, P_z = both[:self.m, 0], both[self.m:, 0]
            G = fake_news_jacobian(ProjectedBlock(self.block, P_z[:, None], self._C, [name],
                                                  self._target_names()), self.T).J[:, 0]
            H = G[:self.m].reshape(self.m * self.T, self.T)
            t = np.arange(self.T)
            for a in range(self.m):
                H[a * self.T + t, t] += M_z[a]
            self._shock_cache[name] = (H[:-1], P_z, G[self.m:])
        return self._shock_cache[name]

    def _assemble(self, proj: ProjectedBlock) -> np.ndarray:
        """H_U (Fortran order, for the LU in place) from the projected household block's
        fake-news Jacobian G, placed output by output as ``fake_news_chunks`` yields it
        (G itself never exists: at J = 48, T = 300 it is as large as H_U, 6.5 GB), plus
        M_u: rows (target a, t) without the bond at T - 1, columns (unknown b, s)
        without r at s = 0. Keeps the tracked outputs' rows of G and G's r_0 column."""
        T, m = self.T, self.m
        n = m * T - 1
        H = np.empty((n, n), order="F")
        self._G_tracked = np.empty((len(self.tracked), m, T, T))
        self._G_r0 = np.empty((m + len(self.tracked), T))  # r_0: for ``linear_from``
        for lo, hi, part in fake_news_chunks(proj, T):
            self._G_r0[lo:hi] = part[:, -1, :, 0]
            for a in range(lo, hi):
                if a >= m:
                    self._G_tracked[a - m] = part[a - lo]
                    continue
                nt = T - 1 if a == m - 1 else T  # the bond market at T - 1 is not a target
                for b in range(m):
                    s0 = 1 if b == m - 1 else 0  # r_0 is not an unknown
                    H[a * T:a * T + nt, b * T:(b + 1) * T - s0] = part[a - lo, b, :nt, s0:]
                    t = np.arange(s0, nt)
                    H[a * T + t, b * T + t - s0] += self._M_u[a, b]
            del part
        return H

    def jacobian_times(self, v: np.ndarray) -> np.ndarray:
        """H_U v (v in the order of ``flatten_unknowns``), from the kept LU: A = P L U
        (two dense triangular copies: for checks, not for J = 48)."""
        lu, piv = self._lu
        z = np.triu(lu) @ v
        z = np.tril(lu, -1) @ z + z
        for i in range(len(piv) - 1, -1, -1):  # undo LAPACK's row interchanges
            z[[i, piv[i]]] = z[[piv[i], i]]
        return z

    def _unflatten(self, U, r0):
        T, m = self.T, self.m
        u = np.empty((T, m))
        u[:, :-1] = U[:(m - 1) * T].reshape(m - 1, T).T
        u[0, -1], u[1:, -1] = r0, U[(m - 1) * T:]
        return u

    def _flatten_targets(self, M):
        return np.r_[M[:, :-1].T.ravel(), M[:-1, -1]]

    def _tracked_rows(self):
        rows = np.zeros((len(self.tracked), len(self.block.outputs)))
        for i, name in enumerate(self.tracked):
            rows[i, self.block.outputs.index(name)] = 1.0
        return rows

    def _target_names(self):
        J = self.J
        return (*(f"goods_{i}" for i in range(1, J)), *(f"pop_{j}" for j in range(1, J)),
                "bond", *(f"y_{n}" for n in self.tracked))

    def _check_shock(self, shock) -> dict[str, np.ndarray]:
        problems = []
        if not isinstance(shock, dict) or not shock:
            raise InvalidParamsError("transition", [Violation(
                "shock", "must be a non-empty dict name -> (T,) path", type(shock).__name__)])
        out = {}
        for name, path in shock.items():
            if name not in self.shock_names:
                problems.append(Violation(f"shock[{name!r}]",
                                          f"must be one of {list(self.shock_names)}", name))
            elif np.shape(path) != (self.T,) or not np.all(np.isfinite(path)):
                problems.append(Violation(f"shock[{name!r}]",
                                          f"must be {self.T} finite numbers", np.shape(path)))
            else:
                out[name] = np.asarray(path, dtype=float)
        if problems:
            raise InvalidParamsError("transition", problems)
        return out


def _h_selection(J: int) -> np.ndarray:
    """S (3J + 1, 4J): the steady-state block's h = (pop, H, C, B) from the household
    block's outputs (A_j, C_j, L_j, H_j)."""
    S = np.zeros((3 * J + 1, 4 * J))
    j = np.arange(J)
    S[j, 2 * J + j] = 1.0  # pop = L
    S[J + j, 3 * J + j] = 1.0  # H
    S[2 * J + j, J + j] = 1.0  # C
    S[-1, :J] = 1.0  # B = sum_j A_j (end of period)
    return S


def _check_solution(sol, T) -> None:
    problems = []
    if not isinstance(sol, Solution):
        problems.append(Violation("solution", "must be an incomplete_markets Solution",
                                  type(sol).__name__))
    elif sol.params.closure != "spatial" or sol.dist.shape[0] < 2:
        problems.append(Violation("solution.params.closure", "must be 'spatial' with J >= 2 "
                                  "(J = 1 is the bond closure: transition_ge)",
                                  f"{sol.params.closure}, J = {sol.dist.shape[0]}"))
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 2:
        problems.append(Violation("T", "must be an integer >= 2", T))
    if problems:
        raise InvalidParamsError("SpatialTransition", problems)


def _check_outputs(block, tracked) -> None:
    unknown = [n for n in tracked if n not in block.outputs]
    if unknown:
        raise InvalidParamsError("SpatialTransition", [Violation(
            "outputs", f"must be among {list(block.outputs)}", unknown)])


def _check_terminal(start: Solution, end) -> None:
    """The terminal steady state: the same economy but for A, on the same grid."""
    problems = []
    if not isinstance(end, Solution) or not end.converged:
        problems.append(Violation("terminal", "must be a converged Solution",
                                  type(end).__name__))
    elif end.params.closure != "spatial" or end.dist.shape != start.dist.shape:
        problems.append(Violation("terminal", "must be a spatial Solution of the same shape",
                                  end.dist.shape))
    else:
        if not np.array_equal(end.a_grid, start.a_grid):
            problems.append(Violation("terminal.a_grid", "must be the initial one", "differs"))
        differ = [f.name for f in dataclasses.fields(Params)
                  if f.name != "A" and f.name not in Params.OUTPUTS
                  and not _same(getattr(start.params, f.name), getattr(end.params, f.name))]
        if differ:
            problems.append(Violation("terminal.params", "may differ from the initial "
                                      "economy's only in A", differ))
    if problems:
        raise InvalidParamsError("SpatialTransition.nonlinear", problems)


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.array_equal(a, b))
