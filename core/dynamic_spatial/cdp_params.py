"""Parameters and observables of the Caliendo-Dvorkin-Parro (2019) economy (Part B).

Source: notes on Caliendo, Dvorkin and Parro (2019), papers/003 (household problem, eqs. 1-3;
production, section 2.3). N regions, J sectors; with non-employment every region has S = J + 1
labour-market choices (slot 0 is non-employment, slots 1..J the sectors), without it S = J.
Markets are flattened as ``m = n * S + s`` (the migration engine's "regions").

Conventions follow ``hetspace.core.armington``: ``kappa[j, i, n]`` is the iceberg cost of
shipping sector-j goods from origin i to destination n; ``X[j, i, n]`` the value shipped;
``lam[j, i, n]`` is destination n's sector-j expenditure share on origin i (columns sum to
one). Migration matrices are row-stochastic: ``mu[m, m']`` is the share of market m's
households that move to m' (CDP's mu^{nj,ik}, eq. 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..errors import Described, InvalidParamsError, Violation
from ..numerics.markov import check_stochastic
from ..protocol import Record
from ..validation import Checker
from .params import check_first_period, expand_knots

_SHARE_TOL = 1e-10


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Structure(Record):
    """Time-invariant shares and elasticities that levels and hat algebra both need.

    beta in (0, 1); nu > 0 (1/nu is the migration elasticity, eq. 2). theta: (J,) Frechet
    trade elasticities theta^j > 0. alpha: (J,) consumption shares alpha^k, summing to one.
    gamma_va: (N, J) value-added shares gamma^{nj} in (0, 1]. io: (N, J, J) input-output
    shares, ``io[n, j, k]`` = gamma^{nj,nk} (sector-k materials in sector-j production of n),
    with gamma_va + io.sum(-1) = 1. xi: (N,) structures share of value added in [0, 1).
    iota: (N,) regional shares of the global portfolio of structure rents (sum one; default
    uniform). non_employment: whether slot 0 of each region is non-employment.
    """

    beta: float
    nu: float
    theta: np.ndarray
    alpha: np.ndarray
    gamma_va: np.ndarray
    io: np.ndarray
    xi: np.ndarray
    iota: np.ndarray | None = None
    non_employment: bool = True

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        check_structure(check, self)
        check.done()

    @property
    def n_regions(self) -> int:
        return int(self.gamma_va.shape[0])

    @property
    def n_sectors(self) -> int:
        return int(self.gamma_va.shape[1])

    @property
    def n_slots(self) -> int:
        """S: labour-market choices per region (J + 1 with non-employment)."""
        return self.n_sectors + int(self.non_employment)

    @property
    def n_markets(self) -> int:
        return self.n_regions * self.n_slots


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CDPParams(Record):
    """Fundamentals of the levels model along a perfect-foresight path t = 0..T.

    structure: the shares and elasticities (:class:`Structure`). A_path: (T+1, N, J)
    productivity A_t^{nj} (held at A_T after T; T >= 1). kappa: (J, N, N) iceberg costs >= 1,
    origin i to destination n. H: (N, J) stocks of structures (> 0; default ones). b: (N,)
    home production b^n > 0 (required with non-employment, ignored otherwise). tau: (M, M)
    relocation costs tau^{nj,ik} >= 0 in utility, M = N S markets. L0: (N, S) households.

    kappa, b and tau are the period-0 values, held constant unless a path is given:
    kappa_path (T+1, J, N, N), b_path (T+1, N) (with non-employment only) and tau_path
    (T+1, M, M), each starting at the period-0 value (tau_t applies to the moves at the end
    of period t; the moves of period -1 faced tau_0). From a mapping (YAML), ``structure``
    may be a nested mapping (errors then read ``structure.alpha[2]``) and the paths may be
    given by knots, ``{horizon: T, knots: {t: values}}`` (``params.path_from_knots``).
    """

    structure: Structure
    A_path: np.ndarray
    kappa: np.ndarray
    tau: np.ndarray
    L0: np.ndarray
    H: np.ndarray | None = None
    b: np.ndarray | None = None
    kappa_path: np.ndarray | None = None
    b_path: np.ndarray | None = None
    tau_path: np.ndarray | None = None

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        s = self.structure
        if not check.require(isinstance(s, Structure), "structure", "must be a Structure", s):
            check.done()
        N, J, S = s.n_regions, s.n_sectors, s.n_slots
        A = check.array(self, "A_path", ndim=3, gt=0.0)
        if A is not None:
            check.require(A.shape[0] >= 2 and A.shape[1:] == (N, J), "A_path",
                          f"must have shape (T+1, {N}, {J}) with T >= 1",
                          Described(f"shape {A.shape}"))
        kappa = check.array(self, "kappa", ndim=3, shape=(J, N, N), ge=1.0)
        tau = check.array(self, "tau", ndim=2, shape=(N * S, N * S), ge=0.0)
        check.array(self, "L0", ndim=2, shape=(N, S), gt=0.0)
        _default(self, "H", np.ones((N, J)))
        check.array(self, "H", ndim=2, shape=(N, J), gt=0.0)
        b = check.array(self, "b", ndim=1, shape=(N,), gt=0.0) if s.non_employment else None
        T1 = None if A is None else A.shape[0]
        _path(check, self, "kappa_path", kappa, "kappa", (T1, J, N, N), ge=1.0)
        _path(check, self, "tau_path", tau, "tau", (T1, N * S, N * S), ge=0.0)
        if s.non_employment:
            _path(check, self, "b_path", b, "b", (T1, N), gt=0.0)
        else:
            check.require(self.b_path is None, "b_path", "needs non-employment "
                          "(structure.non_employment: true)", Described("a path"))
        check.done()

    @property
    def horizon(self) -> int:
        return int(self.A_path.shape[0] - 1)

    def trade_costs(self) -> np.ndarray:
        """(T+1, J, N, N) iceberg costs kappa_t."""
        return self._series("kappa")

    def migration_costs(self) -> np.ndarray:
        """(T+1, M, M) relocation costs tau_t."""
        return self._series("tau")

    def home_production(self) -> np.ndarray | None:
        """(T+1, N) home production b_t (None without non-employment)."""
        return self._series("b") if self.structure.non_employment else None

    def _series(self, name: str) -> np.ndarray:
        path = getattr(self, f"{name}_path")
        if path is not None:
            return path
        first = getattr(self, name)
        return np.broadcast_to(first, (self.horizon + 1, *first.shape))

    @classmethod
    def from_dict(cls, data):
        """As :meth:`Record.from_dict`, building ``structure`` from a nested mapping and
        expanding knot specs of the paths; violations inside the structure are named
        ``structure.<field>``."""
        data = expand_knots(cls.__name__, data, ("A_path", "kappa_path", "b_path",
                                                  "tau_path"))
        if isinstance(data.get("structure"), Mapping):
            try:
                data["structure"] = Structure.from_dict(data["structure"])
            except InvalidParamsError as e:
                raise InvalidParamsError(cls.__name__, [
                    Violation(f"structure.{v.field}", v.message, v.value)
                    for v in e.violations]) from e
        return Record.from_dict.__func__(cls, data)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CDPObservables(Record):
    """What dynamic hat algebra needs at t = 0 (CDP 2019, Proposition 1).

    X0: (J, N, N) bilateral trade flows of period 0 (origin i, destination n); gross output
    R^{ij} = sum_n X0[j, i, n] > 0 and expenditure sum_i X0[j, i, n] must satisfy goods
    market clearing with materials and final demand (relative tolerance balance_rtol).
    L0: (N, S) households by market in period 0. mu_prev: (M, M) row-stochastic migration
    matrix of the end of period -1 (chosen with perfect foresight of the path to be solved).
    structure: shares and elasticities.
    """

    X0: np.ndarray
    L0: np.ndarray
    mu_prev: np.ndarray
    structure: Structure
    balance_rtol: float = 1e-6

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        s = self.structure
        if not check.require(isinstance(s, Structure), "structure", "must be a Structure", s):
            check.done()
        N, J, M = s.n_regions, s.n_sectors, s.n_markets
        X = check.array(self, "X0", ndim=3, shape=(J, N, N), ge=0.0)
        check.array(self, "L0", ndim=2, shape=(N, s.n_slots), gt=0.0)
        mu = check.array(self, "mu_prev", ndim=2, shape=(M, M), ge=0.0)
        if mu is not None:
            check_stochastic(check, "mu_prev", mu)
        rtol = check.scalar(self, "balance_rtol", gt=0.0)
        if X is not None and rtol is not None:
            _check_accounts(check, X, s, rtol)
        check.done()


def check_structure(check: Checker, obj) -> None:
    """Bounds and adding-up of the shares (all violations recorded in ``check``)."""
    check.scalar(obj, "beta", gt=0.0, lt=1.0)
    check.scalar(obj, "nu", gt=0.0)
    theta = check.array(obj, "theta", ndim=1, gt=0.0)
    J = None if theta is None else theta.shape[0]
    alpha = check.array(obj, "alpha", ndim=1, shape=None if J is None else (J,), ge=0.0,
                        le=1.0)
    if alpha is not None:
        check.require(abs(alpha.sum() - 1.0) <= _SHARE_TOL, "alpha", "must sum to 1",
                      float(alpha.sum()))
    g = check.array(obj, "gamma_va", ndim=2, gt=0.0, le=1.0)
    if g is not None and J is not None and not check.require(
            g.shape[1] == J, "gamma_va", f"must have shape (N, {J})", Described(f"{g.shape}")):
        g = None
    N = None if g is None else g.shape[0]
    io = check.array(obj, "io", ndim=3, shape=None if g is None else (N, J, J), ge=0.0,
                     le=1.0)
    if io is not None and g is not None:
        total = g + io.sum(axis=2)
        bad = np.argwhere(np.abs(total - 1.0) > _SHARE_TOL)
        check.require(bad.size == 0, "io", "gamma_va[n, j] + sum_k io[n, j, k] must equal 1"
                      + (f" (first at n={bad[0][0]}, j={bad[0][1]})" if bad.size else ""),
                      float(total[tuple(bad[0])]) if bad.size else None)
    check.array(obj, "xi", ndim=1, shape=None if N is None else (N,), ge=0.0, lt=1.0)
    if N is not None:
        _default(obj, "iota", np.full(N, 1.0 / N))
    iota = check.array(obj, "iota", ndim=1, shape=None if N is None else (N,), ge=0.0)
    if iota is not None:
        check.require(abs(iota.sum() - 1.0) <= _SHARE_TOL, "iota", "must sum to 1",
                      float(iota.sum()))
    check.require(isinstance(obj.non_employment, bool), "non_employment", "must be a bool",
                  obj.non_employment)


def expenditure(R: np.ndarray, s: Structure) -> np.ndarray:
    """(N, J) expenditure E^{nj} = sum_k gamma^{nk,nj} R^{nk} + alpha^j I^n from gross output
    R (N, J), with income I^n = sum_k gamma^{nk}(1 - xi^n) R^{nk} + iota^n chi and the global
    portfolio chi = sum gamma xi R (goods market clearing, CDP section 3)."""
    va = s.gamma_va * R
    chi = float(np.sum(s.xi[:, None] * va))
    income = (1.0 - s.xi) * va.sum(axis=1) + s.iota * chi
    return np.einsum("nkj,nk->nj", s.io, R) + s.alpha[None, :] * income[:, None]


def _check_accounts(check: Checker, X: np.ndarray, s: Structure, rtol: float) -> None:
    R = X.sum(axis=2).T  # (N, J) gross output by origin
    bad = np.argwhere(R <= 0.0)
    if not check.require(bad.size == 0, "X0", "every market must produce (positive gross "
                         "output sum_n X0[j, i, n])", Described(f"zero at {bad[:1].tolist()}")):
        return
    E = X.sum(axis=1).T  # (N, J) expenditure by destination
    gap = np.abs(E - expenditure(R, s)) / E.sum()
    check.require(float(gap.max()) <= rtol, "X0", "goods markets must clear: expenditure "
                  "must equal materials plus final demand (relative to world expenditure)",
                  float(gap.max()))


def _path(check: Checker, obj, name: str, first, first_name: str, shape, **bounds) -> None:
    """An optional (T+1, ...) path of a fundamental that starts at its period-0 value."""
    shape = None if shape[0] is None else shape
    path = check.array(obj, name, ndim=len(shape) if shape else None, shape=shape,
                       optional=True, **bounds)
    if path is not None and first is not None:
        check_first_period(check, name, path, first, first_name)


def _default(obj, name: str, value: np.ndarray) -> None:
    if getattr(obj, name) is None:
        value.setflags(write=False)
        object.__setattr__(obj, name, value)
