"""Exogenous states: Gauss-Hermite nodes of (earnings growth, stock return), or a given chain.

``make_shocks(params, numerics)`` is pure: it returns the arrays the kernels take
(``kernels.py`` documents their meaning). With iid shocks every state shares one
transition row, so the policy is solved once per age; a Markov chain has a row per state.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..protocol import readonly
from .params import MarkovParams


@dataclass(frozen=True, slots=True)
class Shocks:
    """Transition rows in CSR form: row r's successors are ``idx[ptr[r]:ptr[r+1]]`` with
    probabilities ``prob[...]``; states with equal rows share one (the policy depends on
    today's state only through its row). row_of: (n_s,) the row of each state; f, g:
    (J, n_s) the scale's growth into age j and normalised earnings at age j; rs: (n_s,)
    gross stock return; rb: gross bond return; psi: (J,) survival from age j to j+1 (0 at
    the last age); state0: the state at age 1; x1: cash on hand at age 1 over z_1 = 1;
    amin: (J,) smallest savings at each age, minus the borrowing limit (``borrowing_limits``);
    init_prob: (n_s,) the distribution of the age-1 state (one-hot at state0 unless
    ``MarkovParams.initial_dist``); x1_by_state: (n_s,) age-1 cash on hand in each state."""

    ptr: np.ndarray
    idx: np.ndarray
    prob: np.ndarray
    row_of: np.ndarray
    f: np.ndarray
    g: np.ndarray
    rs: np.ndarray
    rb: float
    psi: np.ndarray
    state0: int
    x1: float
    amin: np.ndarray
    init_prob: np.ndarray | None = None
    x1_by_state: np.ndarray | None = None

    @property
    def mean_e1(self) -> float:
        """Mean age-1 earnings over the age-1 distribution (e_1 in the initial state if none)."""
        if self.init_prob is None:
            return float(self.g[0, self.state0])
        return float(self.init_prob @ self.g[0])

    @property
    def n_rows(self) -> int:
        return int(self.ptr.size - 1)

    @property
    def n_states(self) -> int:
        return int(self.row_of.size)

    @property
    def mdl(self) -> tuple:
        """The kernels' model tuple (kernels.py)."""
        return (self.ptr, self.idx, self.prob, self.row_of, self.f, self.g, self.rs, self.psi,
                self.amin)


def csr_rows(transition: np.ndarray, dedup: bool = True) -> tuple[np.ndarray, ...]:
    """(ptr, idx, prob, row_of) of the distinct rows (every row if not ``dedup``) of a
    dense transition matrix."""
    if dedup:
        rows, row_of = np.unique(transition, axis=0, return_inverse=True)
    else:
        rows, row_of = transition, np.arange(transition.shape[0])
    ptr = [0]
    idx: list[np.ndarray] = []
    prob: list[np.ndarray] = []
    for r in rows:
        nz = np.flatnonzero(r > 0.0)
        idx.append(nz)
        prob.append(r[nz])
        ptr.append(ptr[-1] + nz.size)
    out = (np.asarray(ptr, dtype=np.int64), np.concatenate(idx).astype(np.int64),
           np.concatenate(prob), np.asarray(row_of, dtype=np.int64).ravel())
    for arr in out:
        arr.setflags(write=False)
    return out


def gauss_hermite_normal(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and probabilities of an n-point rule for N(0, 1) (exact for polynomials of
    degree 2n - 1)."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    return x, w / w.sum()


def make_shocks(params, numerics) -> Shocks:
    """The kernels' arrays for ``Params`` (iid Gauss-Hermite nodes) or ``MarkovParams``."""
    if isinstance(params, MarkovParams):
        sh = _markov_shocks(params)
    else:
        sh = _iid_shocks(params, numerics)
    limits = borrowing_limits(sh.f, sh.g, sh.rb, params.borrowing)
    return dataclasses.replace(sh, amin=readonly(-limits))


#: Share of the natural limit a borrowing limit may reach (at the natural limit itself
#: consumption is zero in the worst state).
NATURAL_SHARE = 0.999


def borrowing_limits(f: np.ndarray, g: np.ndarray, rb: float, borrowing: float) -> np.ndarray:
    """Bond borrowing limit by age (over the scale z): min(borrowing, NATURAL_SHARE N_j).

    N_j, the natural limit, is the largest debt repaid in every state:
    N_J = 0 and N_j = min_s' f_{j+1}(s') (g_{j+1}(s') + N_{j+1}) / R^b (the minimum over
    all states, so the same for every transition row). No short sales of the stock keep
    every portfolio at least as safe as all-bond debt.
    """
    J = g.shape[0]
    natural = np.zeros(J)
    for j in range(J - 2, -1, -1):
        natural[j] = np.min(f[j + 1] * (g[j + 1] + natural[j + 1])) / rb
    return np.minimum(float(borrowing), NATURAL_SHARE * natural)


def _markov_shocks(p: MarkovParams) -> Shocks:
    n = p.transition.shape[0]
    rs = p.stock_return if p.stock else np.full(n, p.gross_r)
    psi = np.array(p.survival_probs, dtype=float)
    psi[-1] = 0.0
    ptr, idx, prob, row_of = csr_rows(p.transition)
    g1 = p.earnings[0]
    if p.initial_dist is None:
        init = None
        x1_all = g1 * (1.0 + p.wealth_1)
    else:  # wealth_1 relative to mean age-1 earnings (the paper's 0.3 E[e_1], Table 4)
        init = readonly(p.initial_dist)
        x1_all = g1 + p.wealth_1 * float(p.initial_dist @ g1)
    return Shocks(ptr=ptr, idx=idx, prob=prob, row_of=row_of, f=readonly(p.growth),
                  g=readonly(p.earnings), rs=readonly(rs), rb=p.gross_r, psi=readonly(psi),
                  state0=p.initial_state, x1=float(x1_all[p.initial_state]),
                  amin=np.zeros(p.n_ages), init_prob=init, x1_by_state=readonly(x1_all))


def _iid_shocks(params, numerics) -> Shocks:
    """Joint nodes of eps = ln z ~ N(mu_z, sigma_z^2) and ln R^s ~ N(mu_s, sigma_s^2), corr."""
    J = params.n_ages
    n1 = numerics.n_quad if (params.sigma_z > 0.0 or params.stock) else 1
    x1, w1 = gauss_hermite_normal(n1)
    if params.stock:
        x2, w2 = gauss_hermite_normal(numerics.n_quad)
        e1 = np.repeat(x1, x2.size)
        e2 = np.tile(x2, x1.size)
        prob = np.outer(w1, w2).ravel()
        rho = params.corr
        rs = np.exp(params.mu_s + params.sigma_s * (rho * e1 + np.sqrt(1.0 - rho * rho) * e2))
    else:
        e1, prob = x1, w1
        rs = np.full(e1.size, params.gross_r)
    growth = np.exp(params.mu_z + params.sigma_z * e1)
    f = np.tile(growth, (J, 1))
    f[0] = 1.0
    g = np.repeat(params.earnings_profile[:, None], e1.size, axis=1)
    psi = np.array(params.survival_probs, dtype=float)
    psi[-1] = 0.0
    ptr, idx, prob, row_of = csr_rows(prob[None, :])
    row_of = np.zeros(e1.size, dtype=np.int64)
    row_of.setflags(write=False)
    return Shocks(ptr=ptr, idx=idx, prob=prob, row_of=row_of, f=readonly(f), g=readonly(g),
                  rs=readonly(rs), rb=params.gross_r, psi=readonly(psi), state0=0,
                  x1=float(params.earnings_profile[0]) * (1.0 + params.wealth_1),
                  amin=np.zeros(J))
