"""General-equilibrium transitions of the bond and capital closures after a shock:
linear impulse responses from the household block's sequence-space Jacobians and
nonlinear perfect-foresight paths by quasi-Newton iterations with the GE Jacobian
(Auclert, Bardoczy, Rognlie and Straub 2021, section 4).

Bond closure (any J; location prices w_j, P_j, T_j exogenous): r_t is the
return on bonds bought at t - 1, set when they are bought, so r_0 = r_ss (no
surprise revaluation between debtors and creditors) and the unknowns r_1..r_{T-1}
clear the bond market sum_j A_jt = 0 at dates 0..T-2 (measured from the steady
state's own aggregate so that a zero shock gives the steady state exactly; the
market at T - 1 would need r_T, which the horizon fixes at r_ss, so T must be
long enough for the response to be over). An unknown r_0 makes H_U singular
in effect (condition number 5e13 in Huggett's economy: a surprise in r_0 only
redistributes a zero net supply). Shocks: deviations of any location price
w_j, P_j, T_j.

Capital closure (J = 1): unknown K_t (end-of-period capital, K_{-1} = K_ss),
r_t = alpha Z_t (K_{t-1}/L)^(alpha-1) - delta and wage_t = (1 - alpha) Z_t
(K_{t-1}/L)^alpha with L the steady state's effective labour (constant: it is
the mean efficiency of the exogenous chain); target A_t - K_t. Shock: TFP Z_t
("tfp"), in levels.

Linear: H_U dU + H_Z dZ = 0 with H_U, H_Z composed from the household Jacobians
and the firm's derivatives, so dU = -H_U^-1 H_Z dZ and every output responds by
J_U dU + J_Z dZ. Nonlinear: U <- U - H_U^-1 residual(U), one nonlinear household
path per iteration, until max |residual| < tol. The horizon T must be long
enough for the shock and the response to die out (the terminal condition is the
old steady state).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import lu_factor, lu_solve

from ..errors import InvalidParamsError, SolverConvergenceError, Violation
from ..transitions import SequenceJacobian, fake_news_jacobian
from .transition import HouseholdBlock, transition_path

__all__ = ["Impulse", "linear_impulse", "nonlinear_impulse"]


@dataclass(frozen=True, slots=True)
class Impulse:
    """Deviations from the steady state along a transition: values (T, n) named by names
    (household outputs A_j, C_j, L_j, H_j, then prices and unknowns: r, and for the
    capital closure wage and K). n_iter: quasi-Newton steps (0 when linear);
    residual: max |market residual| at the end (0 when linear)."""

    names: tuple[str, ...]
    values: np.ndarray
    n_iter: int = 0
    residual: float = 0.0

    def get(self, name: str) -> np.ndarray:
        if name not in self.names:
            raise InvalidParamsError("Impulse", [Violation("name", f"must be one of "
                                                           f"{list(self.names)}", name)])
        return self.values[:, self.names.index(name)]


def linear_impulse(block: HouseholdBlock, shock: dict[str, np.ndarray], T: int,
                   jacobian: SequenceJacobian | None = None) -> Impulse:
    """First-order responses to ``shock`` (name -> (T,) deviation path); ``jacobian``:
    the block's fake-news Jacobian over T for all inputs (computed if None)."""
    closure = _Closure(block, shock, T, jacobian)
    dU = -closure.lu_solve(closure.H_Z @ closure.dz)
    dx = closure.dx_of(dU)
    dY = closure.jac.apply(dx)
    return Impulse(closure.names, np.column_stack([dY, closure.extras_linear(dU)]))


def nonlinear_impulse(block: HouseholdBlock, shock: dict[str, np.ndarray], T: int,
                      jacobian: SequenceJacobian | None = None, tol: float = 1e-10,
                      max_iter: int = 30) -> Impulse:
    """The perfect-foresight path after ``shock`` by quasi-Newton steps with H_U."""
    closure = _Closure(block, shock, T, jacobian)
    U = closure.U_ss.copy()
    for it in range(max_iter + 1):
        path = transition_path(block, closure.x_of(U))
        res = closure.residual(path.outputs, U)
        err = float(np.abs(res).max())
        if err < tol:
            values = np.column_stack([path.outputs - closure.Y_ss, closure.extras(U)])
            return Impulse(closure.names, values, it, err)
        if it < max_iter:
            U = U - closure.lu_solve(res)
    raise SolverConvergenceError("nonlinear transition did not converge",
                                 residuals={"market": err}, n_iter=max_iter)


class _Closure:
    """Internal: unknowns, prices and targets of one closure along a path of length T."""

    def __init__(self, block, shock, T, jacobian):
        if not isinstance(block, HouseholdBlock):
            raise InvalidParamsError("transition", [Violation(
                "block", "must be an incomplete_markets HouseholdBlock", type(block).__name__)])
        self.block, self.T = block, T
        sol = block.sol
        self.kind = sol.params.closure
        self.jac = jacobian
        if jacobian is None and isinstance(T, (int, np.integer)) and T >= 2:
            self.jac = fake_news_jacobian(block, T)
        self._check(shock)
        self.x_ss = block.steady_inputs()
        self.Y_ss = block.aggregate(block.steady_distribution(),
                                    (sol.c, sol.a_next, sol.mig))
        J = block.n_loc
        self.A_rows = [block.outputs.index(f"A_{j}") for j in range(J)]
        Jr = self.jac.J[:, block.inputs.index("r")]  # (n_out, T, T)
        A_r = Jr[self.A_rows].sum(axis=0)
        if self.kind == "bond":
            self.dz = np.concatenate([np.asarray(shock[k], float) for k in self.shock_names])
            self.H_U = A_r[:-1, 1:]
            self.H_Z = np.hstack([self.jac.J[self.A_rows, block.inputs.index(k)].sum(axis=0)
                                  for k in self.shock_names])[:-1]
            self.U_ss = np.full(T - 1, sol.r)
            self.names = (*block.outputs, "r")
        else:
            p = sol.params
            self.eff, self.L, self.K_ss = float(sol.w[0]), sol.labor, sol.capital
            self.dz = np.asarray(shock["tfp"], float)
            k = self.K_ss / self.L
            a, z = p.alpha, p.tfp
            r_K = a * (a - 1.0) * z * k ** (a - 2.0) / self.L
            w_K = (1.0 - a) * a * z * k ** (a - 1.0) / self.L * self.eff
            r_Z, w_Z = a * k ** (a - 1.0), (1.0 - a) * k ** a * self.eff
            lag = np.eye(T, k=-1)
            A_w = self.jac.J[self.A_rows[0], block.inputs.index("w_0")]
            self.H_U = (A_r * r_K + A_w * w_K) @ lag - np.eye(T)
            self.H_Z = A_r * r_Z + A_w * w_Z
            self._firm = (r_K, w_K, r_Z, w_Z, lag)
            self.U_ss = np.full(T, self.K_ss)
            self.names = (*block.outputs, "r", "wage", "K")
        self._lu = lu_factor(self.H_U)

    def lu_solve(self, b):
        return lu_solve(self._lu, b)

    def _check(self, shock):
        problems = []
        T, block = self.T, self.block
        if self.kind == "bond":
            allowed = [n for n in block.inputs if n != "r"]
        elif self.kind == "capital" and block.n_loc == 1:
            allowed = ["tfp"]
        else:
            allowed = []
            problems.append(Violation("closure", "GE transitions support 'bond' (any J) and "
                                      "'capital' (J = 1)", f"{self.kind}, J = {block.n_loc}"))
        if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 2:
            problems.append(Violation("T", "must be an integer >= 2", T))
        elif self.jac is None or self.jac.T != T or tuple(self.jac.inputs) != tuple(block.inputs):
            problems.append(Violation("jacobian", f"must be the block's over T = {T} for all "
                                      "inputs", f"T = {getattr(self.jac, 'T', None)}"))
        if not isinstance(shock, dict) or not shock:
            problems.append(Violation("shock", "must be a non-empty dict name -> (T,) path",
                                      type(shock).__name__))
        else:
            for name, path in shock.items():
                if name not in allowed:
                    problems.append(Violation(f"shock[{name!r}]", f"must be one of {allowed}",
                                              name))
                elif np.shape(path) != (T,) or not np.all(np.isfinite(path)):
                    problems.append(Violation(f"shock[{name!r}]", f"must be {T} finite numbers",
                                              np.shape(path)))
        if problems:
            raise InvalidParamsError("transition", problems)
        self.shock_names = list(shock)

    def x_of(self, U):
        x = np.tile(self.x_ss, (self.T, 1))
        r_col = self.block.inputs.index("r")
        if self.kind == "bond":
            for name, path in zip(self.shock_names, np.split(self.dz, len(self.shock_names)),
                                  strict=True):
                x[:, self.block.inputs.index(name)] += path
            x[1:, r_col] = U
        else:
            r, wage = self._prices(U)
            x[:, r_col], x[:, 0] = r, wage * self.eff
        return x

    def _prices(self, U):
        p = self.block.sol.params
        K_lag = np.r_[self.K_ss, U[:-1]]
        Z = p.tfp + self.dz
        k = K_lag / self.L
        return p.alpha * Z * k ** (p.alpha - 1.0) - p.delta, (1.0 - p.alpha) * Z * k ** p.alpha

    def residual(self, Y, U):
        A = Y[:, self.A_rows].sum(axis=1) - self.Y_ss[self.A_rows].sum()
        return A[:-1] if self.kind == "bond" else A - (U - self.K_ss)

    def extras(self, U):
        if self.kind == "bond":
            return np.r_[0.0, U - self.U_ss][:, None]
        r, wage = self._prices(U)
        return np.column_stack([r - self.block.sol.r, wage - self.block.sol.wage,
                                U - self.K_ss])

    def dx_of(self, dU):
        dx = np.zeros((self.T, len(self.block.inputs)))
        r_col = self.block.inputs.index("r")
        if self.kind == "bond":
            for name, path in zip(self.shock_names, np.split(self.dz, len(self.shock_names)),
                                  strict=True):
                dx[:, self.block.inputs.index(name)] += path
            dx[1:, r_col] = dU
        else:
            dr, dw = self._dprices(dU)
            dx[:, r_col], dx[:, 0] = dr, dw * self.eff
        return dx

    def _dprices(self, dU):
        r_K, w_K, r_Z, w_Z, lag = self._firm
        return r_K * (lag @ dU) + r_Z * self.dz, (w_K * (lag @ dU) + w_Z * self.dz) / self.eff

    def extras_linear(self, dU):
        if self.kind == "bond":
            return np.r_[0.0, dU][:, None]
        dr, dw = self._dprices(dU)
        return np.column_stack([dr, dw, dU])
