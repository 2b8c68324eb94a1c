"""Parameters and numerics of the spatial incomplete-markets economy.

Notation (Donald-Fukui-Miyauchi eqs. 44, 56 and appendix B.2.1, with income risk):
J locations j, S income states e_s with Markov matrix Pi, assets a >= a_low.
Budget ``P_j c + a' = (1 + r) a + wage w_j e_s + T_j``; ``wage`` is 1 except in the
``capital`` closure, where it is the firm's wage per efficiency unit and w_j is
the efficiency of a worker in location j. Logit migration over next period's
location with shifters chi_jk and elasticity theta; J = 1 means no migration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import Described
from ..numerics.markov import check_stochastic
from ..protocol import Record
from ..validation import Checker

CLOSURES = ("partial", "bond", "capital", "spatial")
GRIDS = ("power", "double_exponential")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Params(Record):
    """Fundamentals of the household problem and the equilibrium closure.

    gamma: CRRA (log at 1). beta: discount factor; omega: survival probability
    (deaths are replaced by newborns who inherit assets and location, so omega
    only scales discounting). e_grid: (S,) income states; Pi: (S, S) with
    Pi[s, s'] = Pr(e' = e_s' | e = e_s). a_low: borrowing limit. With
    limit_on_face_value (Huggett 1993) a_low and the grid are on the bond's face
    value, so in the (1+r)-form the limit is a_low / (1 + r) and moves with r.
    w, P, T: (J,) location wage (efficiency), price index, transfer, the prices
    households face in the 'partial', 'bond' and 'capital' closures (default:
    ones, ones, zeros; J is the length of w). chi: (J, J) migration-cost
    shifters, chi[j, j] = 1; theta: migration elasticity.
    closure: 'partial' (r given), 'bond' (zero net supply, Huggett), 'capital'
    (Cobb-Douglas firm tfp K^alpha L^(1-alpha), depreciation delta, Aiyagari) or
    'spatial' (DFM section 4: bonds in zero net supply plus CES goods markets and
    population consistency, see ``spatial.py``).
    r: the interest rate of the 'partial' closure (required there, and only
    there: in the other closures r is found; a starting point for the search is
    a :class:`Guess`, passed as ``solve(..., warm_start=Guess(r=...))``).

    Spatial closure only: sigma_trade (> 1): trade elasticity; A (J, J):
    productivity shifters, A[k, j] for goods made in k and sold in j (eq. 54,
    productivity A_kj L_k^alpha_agg), whose size sets J; alpha_agg:
    agglomeration elasticity (|alpha_agg| < 1); kappa_transfer (J,): transfer
    rates, T_j = kappa_j w_j + T_bar (default zeros). There w, P and T are
    equilibrium outputs (``Solution.w``, ``.P``, ``.T``), not fields to set:
    Params holds fundamentals only, so equal economies have equal fingerprints
    whatever the starting point.
    """

    #: field -> what to say when a field that is an output or a guess is set
    OUTPUTS: ClassVar[dict[str, str]] = {
        "w": "an equilibrium output of closure='spatial' (Solution.w); leave it out (a "
             "starting guess of wages is solve(..., warm_start=Guess(w=...)))",
        "P": "an equilibrium output of closure='spatial' (Solution.P); leave it out",
        "T": "an equilibrium output of closure='spatial' (Solution.T: kappa_transfer sets "
             "the transfer rates); leave it out",
        "r": "found by closure='{closure}' (Solution.r); leave it out or null (a starting "
             "guess is solve(..., warm_start=Guess(r=...)))",
    }

    gamma: float
    beta: float
    e_grid: np.ndarray
    Pi: np.ndarray
    a_low: float
    omega: float = 1.0
    limit_on_face_value: bool = False
    w: np.ndarray | None = None
    P: np.ndarray | None = None
    T: np.ndarray | None = None
    chi: np.ndarray = ((1.0,),)
    theta: float = 1.0
    closure: str = "partial"
    r: float | None = None
    alpha: float = 0.36
    delta: float = 0.08
    tfp: float = 1.0
    sigma_trade: float = 5.0
    A: np.ndarray | None = None
    alpha_agg: float = 0.0
    kappa_transfer: np.ndarray | None = None

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        check.scalar(self, "gamma", gt=0.0, le=100.0)  # above, u(c) overflows at small c
        beta = check.scalar(self, "beta", gt=0.0)
        omega = check.scalar(self, "omega", gt=0.0, le=1.0)
        if beta is not None and omega is not None:
            check.require(beta * omega < 1.0, "beta*omega", "must be < 1", beta * omega)
        e = check.array(self, "e_grid", ndim=1, ge=0.0)
        S = None if e is None else e.shape[0]
        Pi = check.array(self, "Pi", ndim=2, shape=None if S is None else (S, S), ge=0.0)
        if Pi is not None:
            check_stochastic(check, "Pi", Pi)
        J = self._location_prices(check)
        chi = check.array(self, "chi", ndim=2, shape=None if J is None else (J, J), gt=0.0)
        if chi is not None:
            diag = np.diag(chi)
            bad = np.flatnonzero(diag != 1.0)
            check.require(bad.size == 0, f"chi[{bad[0]}, {bad[0]}]" if bad.size else "chi",
                          "diagonal must be 1", float(diag[bad[0]]) if bad.size else None)
        check.scalar(self, "theta", gt=0.0)
        check.scalar(self, "a_low")
        check.require(isinstance(self.limit_on_face_value, bool), "limit_on_face_value",
                      "must be True or False", self.limit_on_face_value)
        self._check_closure(check)
        self._check_rate(check)
        check.done()

    def _check_closure(self, check: Checker) -> None:
        if not check.require(self.closure in CLOSURES, "closure",
                             f"must be one of {list(CLOSURES)}", self.closure):
            return
        if self.closure == "partial":
            check.require(self.r is not None, "r", "is required with closure='partial'", None)
        else:
            check.require(self.r is None, "r", "is " + self.OUTPUTS["r"].format(
                closure=self.closure), self.r)
        if self.closure in ("bond", "spatial") and isinstance(self.a_low, float):
            check.require(self.a_low < 0.0, "a_low",
                          f"must be < 0 with closure='{self.closure}' (bonds in zero net supply)",
                          self.a_low)
        if self.closure == "spatial":
            self._check_spatial(check)
        if self.closure == "capital":
            check.scalar(self, "alpha", gt=0.0, lt=1.0)
            check.scalar(self, "delta", ge=0.0, le=1.0)
            check.scalar(self, "tfp", gt=0.0)
            check.require(not self.limit_on_face_value, "limit_on_face_value",
                          "must be False with closure='capital'", True)

    def _location_prices(self, check: Checker) -> int | None:
        """Checks (w, P, T) and returns J. Spatial closure: they must be left out (J is
        the size of A); otherwise w sets J (default one location) and P, T default to
        ones and zeros."""
        if self.closure == "spatial":
            for name in ("w", "P", "T"):
                check.require(getattr(self, name) is None, name, "is " + self.OUTPUTS[name],
                              getattr(self, name))
            A = check.array(self, "A", ndim=2, gt=0.0)
            if A is None or not check.require(A.shape[0] == A.shape[1], "A",
                                              "must be square (J, J)", Described(str(A.shape))):
                return None
            return A.shape[0]
        if self.w is None:
            object.__setattr__(self, "w", (1.0,))
        w = check.array(self, "w", ndim=1, gt=0.0)
        J = None if w is None else w.shape[0]
        for name, fill in (("P", 1.0), ("T", 0.0)):
            if getattr(self, name) is None and J is not None:
                object.__setattr__(self, name, np.full(J, fill))
        vec = None if J is None else (J,)
        check.array(self, "P", ndim=1, shape=vec, gt=0.0)
        check.array(self, "T", ndim=1, shape=vec)
        return J

    def _check_spatial(self, check: Checker) -> None:
        A = self.A
        J = A.shape[0] if isinstance(A, np.ndarray) and A.ndim == 2 else None
        check.scalar(self, "sigma_trade", gt=1.0)
        check.scalar(self, "alpha_agg", gt=-1.0, lt=1.0)
        if self.kappa_transfer is None and J is not None:
            object.__setattr__(self, "kappa_transfer", np.zeros(J))
        check.array(self, "kappa_transfer", ndim=1, shape=None if J is None else (J,))
        check.require(not self.limit_on_face_value, "limit_on_face_value",
                      "must be False with closure='spatial'", True)

    def _check_rate(self, check: Checker) -> None:
        if self.r is None:
            return
        r = check.scalar(self, "r", gt=-1.0)
        if r is None or check.violations:
            return
        bo = self.beta * self.omega
        check.require(bo * (1.0 + r) < 1.0, "r",
                      f"must satisfy beta*omega*(1+r) < 1 (= {bo * (1.0 + r):.6g})", r)
        limit = natural_limit(self, r)
        a_low = effective_limit(self, r)
        check.require(r * a_low + min_income(self) > 0.0, "a_low",
                      f"must be above the natural borrowing limit {limit:.6g} at r={r:g}"
                      + (f" (limit in (1+r)-form {a_low:.6g})" if self.limit_on_face_value else ""),
                      self.a_low)

    @property
    def n_loc(self) -> int:
        """J: the size of A in the spatial closure, else the length of w."""
        return int(np.shape(self.A if self.closure == "spatial" else self.w)[0])

    @property
    def n_e(self) -> int:
        return int(self.e_grid.shape[0])


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Guess(Record):
    """A starting point for the equilibrium search, kept apart from the fundamentals.

    Pass it as ``solve(params, numerics, warm_start=Guess(...))`` where no nearby
    solution exists to warm-start from (a solution is the better start when
    there is one). Every field is optional. r: the interest rate where the
    search starts ('bond', 'capital', 'spatial'; ignored in 'partial'). w: (J,)
    wages and population: (J,) populations where the spatial closure's Newton
    solver starts instead of its cold start (rescaled to w[0] = 1 and to sum
    one; both or neither).
    """

    r: float | None = None
    w: np.ndarray | None = None
    population: np.ndarray | None = None

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        if self.r is not None:
            check.scalar(self, "r", gt=-1.0)
        w = check.array(self, "w", ndim=1, gt=0.0, optional=True)
        L = check.array(self, "population", ndim=1, gt=0.0, optional=True)
        check.require((self.w is None) == (self.population is None), "population",
                      "goes with w (give both or neither)", None)
        if w is not None and L is not None:
            check.require(L.shape == w.shape, "population", f"must have shape {w.shape}",
                          Described(str(L.shape)))
        check.done()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Numerics(Record):
    """Grid and solver settings.

    n_a, a_max, grid, curvature: the asset grid from the borrowing limit to a_max
    (face value when the limit is on face value); 'power' is
    a_low + (a_max - a_low) s^curvature. tol_policy: max change of consumption
    between EGM steps; tol_value: max change of values relative to 1 + |v|;
    tol_dist: L1 residual of the stationary distribution; tol_r: width of the
    interest-rate bracket in general equilibrium (the r search lowers
    tol_policy/tol_value near the root when needed so that the bracket is not
    narrower than the household solver's error in the excess supply; see
    solve.py). r_min: lower end of the search
    for r (None: -0.5 for 'bond', -0.99 delta for 'capital'); r_margin: distance
    kept from 1/(beta omega) - 1. r_step: first bracket step around a guess.
    Spatial closure: tol_spatial bounds the goods-market residuals (relative to
    each location's labour income) and the population residuals (relative to
    each location's population). Household values are off their fixed point by
    about tol_value / (1 - beta omega), which moves populations by about 1e-7 at
    the defaults, so the spatial closure tightens tol_policy and tol_value to
    at most 0.01 tol_spatial (1 - beta omega). max_iter_spatial caps the outer
    (Newton) iterations of the outer solver (``spatial_outer``).
    """

    RETIRED: ClassVar[dict[str, str]] = {
        name: ("no longer used: the spatial closure is solved by Newton's method, which has "
               "no damping or memory; remove it (max_iter_spatial caps the Newton steps)")
        for name in ("damping_spatial", "memory_spatial")}

    n_a: int = 500
    a_max: float = 200.0
    grid: str = "double_exponential"
    curvature: float = 2.0
    tol_policy: float = 1e-10
    tol_value: float = 1e-10
    max_iter_household: int = 50_000
    tol_dist: float = 1e-10
    tol_r: float = 1e-11
    max_iter_ge: int = 200
    r_min: float | None = None
    r_margin: float = 1e-10
    r_step: float = 1e-3
    tol_spatial: float = 1e-6
    max_iter_spatial: int = 60

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        check.scalar(self, "n_a", ge=10, le=100_000, integer=True)
        check.scalar(self, "a_max")
        check.require(self.grid in GRIDS, "grid", f"must be one of {list(GRIDS)}", self.grid)
        check.scalar(self, "curvature", gt=0.0)
        for name in ("tol_policy", "tol_value", "tol_dist", "tol_r", "r_margin", "r_step",
                     "tol_spatial"):
            check.scalar(self, name, gt=0.0)
        check.scalar(self, "max_iter_spatial", ge=1, integer=True)
        check.scalar(self, "max_iter_household", ge=1, integer=True)
        check.scalar(self, "max_iter_ge", ge=1, integer=True)
        if self.r_min is not None:
            check.scalar(self, "r_min", gt=-1.0)
        check.done()


def effective_limit(params: Params, r: float) -> float:
    """The borrowing limit in the (1+r)-form budget at interest rate r."""
    return params.a_low / (1.0 + r) if params.limit_on_face_value else params.a_low


def min_income(params: Params, wage: float = 1.0) -> float:
    """Lowest per-period income wage w_j e_s + T_j over locations and states."""
    return float(np.min(wage * params.w * params.e_grid.min() + params.T))


def natural_limit(params: Params, r: float, wage: float = 1.0) -> float:
    """Natural borrowing limit: consumption at a = a' = limit is zero (r a + y_min = 0).

    -inf when r <= 0 (any finite debt can be rolled over). Validation checks
    r a_low + y_min > 0 directly, which also covers zero lowest income.
    """
    y = min_income(params, wage)
    return -y / r if r > 0.0 else -np.inf


MAX_GIB = 4.0  # memory of the largest household array a solve may allocate


def check_numerics_against(params: Params, numerics: Numerics) -> None:
    """Cross-checks that need both objects (raised once, at solve time)."""
    check = Checker("Numerics")
    check.require(numerics.a_max > params.a_low, "a_max",
                  f"must be > a_low = {params.a_low:g}", numerics.a_max)
    J, S = params.n_loc, params.n_e
    gib = 8.0 * J * J * S * numerics.n_a / 2**30  # the migration shares mu (J, S, n_a, J)
    check.require(gib <= MAX_GIB, "n_a", f"needs about {gib:.3g} GiB for the migration "
                  f"shares (8 J^2 S n_a bytes with J = {J}, S = {S}), above {MAX_GIB:g}; "
                  "lower n_a", numerics.n_a)
    check.done()
