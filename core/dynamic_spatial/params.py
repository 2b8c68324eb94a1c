"""Parameters, observables and numerics of the dynamic spatial model (Part A: one sector).

Source: Rudik, AEM 7130 lecture 11 (papers/001), "Armington with dynamic migration" and
"Dynamic hat algebra". Conventions follow ``hetspace.core.armington``: ``X[i, j]`` is the
value shipped from origin i to destination j, ``lam[i, j]`` is j's expenditure share on i.
Migration matrices are row-stochastic: ``pi[j, i]`` is the share of j's residents who move
to i (the lecture's pi_ji).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..armington.data import TradeData
from ..errors import Described
from ..numerics.markov import check_stochastic
from ..protocol import Record
from ..validation import Checker


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Params(Record):
    """Fundamentals of the levels model along a perfect-foresight path t = 0..T.

    sigma: elasticity of substitution (> 1). beta: discount factor in (0, 1). nu: scale of
    the type-I extreme value migration shocks (> 0; 1/nu is the migration elasticity, the
    lecture uses nu = 1). A_path: (T+1, N) productivity A_t, held at A_T after T (T >= 1).
    tau: (N, N) iceberg costs (>= 1) of period 0, held constant unless ``tau_path`` is given.
    tau_path: optional (T+1, N, N) iceberg costs tau_t (>= 1, held at tau_T after T), with
    tau_path[0] equal to tau. m: (N, N) additive utility cost of moving from j to i (m[j, i];
    usually zero on the diagonal). L0: (N,) initial labour. a: (N, N) taste shifters
    (default ones).

    From a mapping (YAML), ``A_path`` and ``tau_path`` may also be given by knots,
    ``{horizon: T, knots: {t: values, ...}}`` (see :func:`path_from_knots`).
    """

    sigma: float
    beta: float
    nu: float
    A_path: np.ndarray
    tau: np.ndarray
    m: np.ndarray
    L0: np.ndarray
    a: np.ndarray | None = None
    tau_path: np.ndarray | None = None

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        _structural(check, self)
        A = check.array(self, "A_path", ndim=2, gt=0.0)
        if A is not None:
            check.require(A.shape[0] >= 2, "A_path", "needs at least two periods (T >= 1)",
                          Described(f"shape {A.shape}"))
            check.require(A.shape[0] <= MAX_HORIZON + 1, "A_path", "horizon T = rows - 1 "
                          + _HORIZON_TEXT, Described(f"shape {A.shape}"))
        n = None if A is None else A.shape[1]
        square = None if n is None else (n, n)
        tau = check.array(self, "tau", ndim=2, shape=square, ge=1.0)
        path_shape = None if A is None else (A.shape[0], n, n)
        tau_path = check.array(self, "tau_path", ndim=3, shape=path_shape, ge=1.0,
                               optional=True)
        if tau is not None and tau_path is not None:
            check_first_period(check, "tau_path", tau_path, tau, "tau")
        check.array(self, "m", ndim=2, shape=square)
        check.array(self, "L0", ndim=1, shape=None if n is None else (n,), gt=0.0)
        if self.a is None:
            if n is not None:
                ones = np.ones((n, n))
                ones.setflags(write=False)
                object.__setattr__(self, "a", ones)
        else:
            check.array(self, "a", ndim=2, shape=square, gt=0.0)
        check.done()

    @property
    def n_regions(self) -> int:
        return int(self.A_path.shape[1])

    @property
    def horizon(self) -> int:
        """T, the last period of the path."""
        return int(self.A_path.shape[0] - 1)

    def trade_costs(self) -> np.ndarray:
        """(T+1, N, N) iceberg costs tau_t (``tau`` held constant without ``tau_path``)."""
        if self.tau_path is not None:
            return self.tau_path
        return np.broadcast_to(self.tau, (self.horizon + 1, *self.tau.shape))

    @classmethod
    def from_dict(cls, data):
        """As :meth:`Record.from_dict`, with ``A_path`` / ``tau_path`` also given by knots."""
        return super(Params, cls).from_dict(expand_knots(cls.__name__, data,
                                                         ("A_path", "tau_path")))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Observables(Record):
    """What dynamic hat algebra needs at t = 0 (lecture, "Dynamic hat algebra").

    X0: (N, N) trade flows in period 0 (balanced: income = row sums = column sums; the
    income w_0 L_0 is read off the row sums). L0: (N,) labour in period 0. pi_prev: (N, N)
    row-stochastic migration matrix of the end of period -1 (the moves that produced L0),
    chosen with perfect foresight of the path to be solved. sigma, beta, nu as in Params.
    """

    X0: np.ndarray
    L0: np.ndarray
    pi_prev: np.ndarray
    sigma: float
    beta: float
    nu: float
    balance_rtol: float = 1e-6

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        _structural(check, self)
        X = check.array(self, "X0", ndim=2, ge=0.0)
        n = None if X is None else X.shape[0]
        check.array(self, "L0", ndim=1, shape=None if n is None else (n,), gt=0.0)
        pi = check.array(self, "pi_prev", ndim=2, shape=None if n is None else (n, n), ge=0.0)
        if pi is not None:
            check_stochastic(check, "pi_prev", pi)
        rtol = check.scalar(self, "balance_rtol", gt=0.0)
        check.done()
        TradeData(X=self.X0, L=self.L0, balance_rtol=rtol)  # flows: balance, connectedness

    @property
    def n_regions(self) -> int:
        return int(self.X0.shape[0])


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Numerics(Record):
    """tol: largest relative change of any L_jt between outer iterations at convergence (also
    the tolerance of the Bellman fixed points). market_tol: trade imbalance relative to gross
    trade in each period. method: root finder for the labour path ("anderson" mixing,
"krylov" for Newton-Krylov, "broyden1"); max_iter bounds its iterations. horizon_tol: largest
    admissible relative one-period population change at T (else the horizon is too short).
    """

    tol: float = 1e-11
    max_iter: int = 500
    method: str = "anderson"
    market_tol: float = 1e-12
    market_max_iter: int = 100
    horizon_tol: float = 1e-6

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        check.scalar(self, "tol", ge=1e-14, lt=1e-2)
        check.scalar(self, "max_iter", ge=1, integer=True)
        check.require(self.method in _METHODS, "method", f"must be one of {_METHODS}",
                      self.method)
        check.scalar(self, "market_tol", ge=1e-14, lt=1e-2)
        check.scalar(self, "market_max_iter", ge=1, integer=True)
        check.scalar(self, "horizon_tol", gt=0.0)
        check.done()


_METHODS = ("anderson", "krylov", "broyden1")


def check_fundamental_changes(owner: str, name: str, value, n: int) -> np.ndarray:
    """A (T, N) path of positive changes in productivity (T >= 1)."""
    return check_changes(owner, name, value, (n,))


def check_changes(owner: str, name: str, value, tail: tuple[int, ...], T: int | None = None,
                  positive: bool = True) -> np.ndarray:
    """A (T, *tail) path of changes in a fundamental (T >= 1, or exactly ``T`` rows); changes
    are ratios (> 0) unless ``positive`` is False (differences of additive costs)."""
    check = Checker(owner)
    arr = check.check_array(value, name, ndim=1 + len(tail), gt=0.0 if positive else None)
    if arr is not None:
        dims = ", ".join(str(d) for d in tail)
        check.require(arr.shape[0] >= 1 and arr.shape[1:] == tuple(tail), name,
                      f"must have shape (T, {dims}) with T >= 1",
                      Described(f"shape {arr.shape}"))
        if T is not None and arr.shape[1:] == tuple(tail):
            check.require(arr.shape[0] == T, name, f"must have {T} rows (t = 1..T)",
                          arr.shape[0])
    check.done()
    return arr


def check_first_period(check: Checker, name: str, path: np.ndarray, first: np.ndarray,
                       first_name: str) -> None:
    """A fundamental's path must start at the period-0 value given separately."""
    gap = float(np.max(np.abs(path[0] - first))) if path.ndim else 0.0
    check.require(gap <= 1e-12 * (1.0 + float(np.max(np.abs(first)))), name,
                  f"{name}[0] must equal {first_name} (the period-0 value)",
                  Described(f"max |{name}[0] - {first_name}| = {gap:.3g}"))


#: The longest path (T) a config may ask for: the solvers' work and memory grow with T
#: (T = 3000 took 30 s for three regions), and population settles long before
#: (``Numerics.horizon_tol`` checks that it has by T).
MAX_HORIZON = 2000
_HORIZON_TEXT = (f"must be <= {MAX_HORIZON} (the solve grows with T; the population "
                 "settles long before, and numerics.horizon_tol checks that it has)")


def path_from_knots(owner: str, name: str, spec) -> np.ndarray:
    """(T+1, ...) path from ``{horizon: T, knots: {t: values}}``: the values at the knots,
    log-linear in between, held after the last knot; a knot at t = 0 is required. Values must
    be positive (productivities, iceberg costs)."""
    check = Checker(owner)
    unknown = sorted(set(spec) - {"horizon", "knots"})
    check.require(not unknown, name, "knots spec takes only 'horizon' and 'knots'",
                  Described(", ".join(map(str, unknown))))
    T = check.check_scalar(spec.get("horizon"), f"{name}.horizon", ge=1, integer=True)
    if T is not None and not check.require(T <= MAX_HORIZON, f"{name}.horizon",
                                           _HORIZON_TEXT, T):
        T = None
    knots = spec.get("knots")
    if not check.require(isinstance(knots, Mapping) and len(knots) > 0, f"{name}.knots",
                         "must be a mapping {period: values}", knots) or T is None:
        check.done()
    times, values = [], []
    for key, raw in knots.items():
        t = check.check_scalar(key, f"{name}.knots", ge=0, le=T, integer=True)
        v = check.check_array(raw, f"{name}.knots[{key}]", gt=0.0)
        if t is not None and v is not None:
            times.append(int(t))
            values.append(np.log(v))
    check.require(0 in times, f"{name}.knots", "needs a knot at period 0",
                  Described(str(sorted(times))))
    shapes = {v.shape for v in values}
    check.require(len(shapes) <= 1, f"{name}.knots", "all knots must have the same shape",
                  Described(str(sorted(shapes))))
    check.done()
    order = np.argsort(times)
    t_k, v_k = np.asarray(times)[order], np.stack(values)[order]
    flat = v_k.reshape(len(t_k), -1)
    grid = np.arange(int(T) + 1)
    out = np.stack([np.interp(grid, t_k, flat[:, c]) for c in range(flat.shape[1])], axis=1)
    return np.exp(out).reshape(int(T) + 1, *v_k.shape[1:])


def expand_knots(owner: str, data, names) -> dict:
    """A copy of ``data`` with the knot specs of ``names`` expanded to full paths."""
    out = dict(data or {})
    for name in names:
        if isinstance(out.get(name), Mapping):
            out[name] = path_from_knots(owner, name, out[name])
    return out


def _structural(check: Checker, obj) -> None:
    check.scalar(obj, "sigma", gt=1.0)
    check.scalar(obj, "beta", gt=0.0, lt=1.0)
    check.scalar(obj, "nu", gt=0.0)
