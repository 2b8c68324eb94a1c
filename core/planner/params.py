"""Parameters and numerics of the Donald-Fukui-Miyauchi planner (sections 2-4, Table 1).

Log utility only (gamma = 1, eq. 52) and no income risk (the paper's planner has
none): there is no gamma or income-state field, and ``from_status_quo`` rejects
a status-quo economy with gamma != 1 or more than one income state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import Described, InvalidParamsError, Violation
from ..protocol import Record
from ..validation import Checker

ALLOCATIONS = ("second_best", "first_best", "history_independent")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Params(Record):
    """Fundamentals of the planner's economy and which allocation to compute.

    allocation: 'second_best' (private location tastes, section 3.2),
    'first_best' (complete information, Prop. 1) or 'history_independent'
    (consumption common to a location's residents, Prop. 3). beta: private
    discount factor; omega: survival; theta, chi (J, J) with chi[i, i] = 1: logit
    migration (56); A (J, J): productivity A[k, j] of goods made in k for j (54,
    as the workhorse's ``A``); sigma_trade > 1 and alpha_agg: CES and
    agglomeration (53)-(55) (the inner exponent of (53) is (sigma - 1) / sigma:
    a typo in the paper). r_inv: the social discount 1/R (default beta, Table
    1); weights: (J,) welfare weights Lambda (default ones). The first best as
    built here is the grid-free steady state of Prop. 1, which needs beta R = 1
    and equal weights (else the marginal cost of promises drifts with age).
    """

    allocation: str = "second_best"
    beta: float
    omega: float
    theta: float
    chi: np.ndarray
    A: np.ndarray
    sigma_trade: float = 5.0
    alpha_agg: float = 0.0
    r_inv: float | None = None
    weights: np.ndarray | None = None

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        check.require(self.allocation in ALLOCATIONS, "allocation",
                      f"must be one of {list(ALLOCATIONS)}", self.allocation)
        beta = check.scalar(self, "beta", gt=0.0, lt=1.0)
        check.scalar(self, "omega", gt=0.0, lt=1.0)
        check.scalar(self, "theta", gt=0.0)
        check.scalar(self, "sigma_trade", gt=1.0)
        check.scalar(self, "alpha_agg", gt=-1.0, lt=1.0)
        if self.r_inv is None and beta is not None:
            object.__setattr__(self, "r_inv", beta)
        if self.r_inv is not None:
            check.scalar(self, "r_inv", gt=0.0, lt=1.0)
        A = check.array(self, "A", ndim=2, gt=0.0)
        J = A.shape[0] if A is not None and A.shape[0] == A.shape[1] else None
        if A is not None:
            check.require(J is not None, "A", "must be square (J, J)", Described(str(A.shape)))
        chi = check.array(self, "chi", ndim=2, shape=None if J is None else (J, J), gt=0.0)
        if chi is not None and not np.all(np.diag(chi) == 1.0):
            check.fail("chi", "diagonal must be 1", Described(str(np.diag(chi)[:4])))
        if self.weights is None and J is not None:
            object.__setattr__(self, "weights", np.ones(J))
        lam = check.array(self, "weights", ndim=1, shape=None if J is None else (J,), gt=0.0)
        if self.allocation == "first_best" and not check.violations:
            check.require(abs(self.beta / self.r_inv - 1.0) < 1e-12, "r_inv",
                          f"must equal beta = {self.beta:g} for the first best (the "
                          "grid-free steady state of Prop. 1 needs beta R = 1)", self.r_inv)
            check.require(bool(np.all(lam == lam[0])), "weights",
                          "must be equal for the first best (Prop. 1 steady state)",
                          Described(str(lam[:4])))
        check.done()

    @property
    def n_loc(self) -> int:
        return int(self.A.shape[0])

    @classmethod
    def from_status_quo(cls, sq, allocation: str = "second_best", **changes) -> Params:
        """The planner's economy of a workhorse (``incomplete_markets``) spatial Params:
        same beta, omega, theta, chi, A, sigma_trade, alpha_agg (chi unchanged: its
        level acts like an amenity). Raises InvalidParamsError unless gamma = 1 and
        there is one income state (the planner is built for log utility without
        income risk)."""
        bad = []
        if sq.gamma != 1.0:
            bad.append(Violation("gamma", "must be 1: the planner is built for log utility "
                                 "only (DFM eq. 52)", sq.gamma))
        if sq.n_e != 1:
            bad.append(Violation("e_grid", "must have one income state: the planner is "
                                 "built without income risk", Described(f"{sq.n_e} states")))
        if sq.closure != "spatial":
            bad.append(Violation("closure", "must be 'spatial'", sq.closure))
        if bad:
            raise InvalidParamsError(cls.__name__, bad)
        fields = dict(allocation=allocation, beta=sq.beta, omega=sq.omega, theta=sq.theta,
                      chi=sq.chi, A=sq.A, sigma_trade=sq.sigma_trade,
                      alpha_agg=sq.alpha_agg)
        return cls(**(fields | changes))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Numerics(Record):
    """Grids and tolerances.

    n_v: promised-utility nodes (uniform); v_below, v_above: the grid spans from
    (lowest first-best promise - v_below) to (highest + v_above), in utils, fixed
    at the start of a solve. Promises drift without bound, down for stayers in bad
    locations and up in good ones (front- and back-loading, DFM Figure 2): the share
    of households a period that leaves the grid is reported
    (``Solution.mass_off_grid``; they are placed at its end node) and logged as a
    warning above 1e-4. The range follows the mass: on the synthetic 48-location
    economy the first-best promises lie in [15, 19.5] and 99.98% of the second
    best's households in [1.4, 33.7] (1e-9 below -65 or above 50). Its error
    against n_v = 480 on the same range (``benchmarks/planner.py --grid``; largest
    relative difference): at the default n_v = 120 (0.63 utils, 1.6% of
    consumption between nodes) populations 2.0e-3, w 4.0e-4, C_eq 3.1e-5, mass off
    the grid 1.7e-8; at 240 5.3e-4, 1.1e-4, 8.9e-6 (second order in the spacing);
    the former default, 240 nodes from 150 below to 60 above, 3.6e-3, 7.2e-4,
    5.5e-5 in twice the time of 120. On the 8-location economy (theta 0.25-1,
    alpha_agg 0 and 0.04): populations 5e-4 to 9e-4, C_eq 2e-5 to 3e-5, mass off
    the grid up to 3e-7 (theta = 0.25). Households placed at the grid's end break
    the lotteries' martingale in Xi, so spending and labour income (1 at a
    solution) are off by about that much (2e-9 at 48 locations, 4e-8 at 8 with
    theta = 0.25). n_m: size
    of the EGM grid on M (None: 2 n_v), quantiles of G_m at the v-grid's nodes.
    tol_inner: sup change of S and log Xi in a sweep; max_iter_inner: sweeps per
    inner solve (Newton needs ~6; a plain sweep replaces a failed Newton step and
    contracts at ~beta, hence the margin). tol_outer: max
    relative goods and population residual. tol_fixed: the grid-free fixed points
    (first best, history independent); damping_hi: the weight of the new Xi in
    the history-independent iteration on C.
    """

    n_v: int = 120
    v_below: float = 40.0
    v_above: float = 30.0
    n_m: int | None = None
    tol_inner: float = 1e-10
    max_iter_inner: int = 3000
    tol_outer: float = 1e-8
    max_iter_outer: int = 40
    tol_fixed: float = 1e-12
    max_iter_fixed: int = 20_000
    damping_hi: float = 0.5

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        check.scalar(self, "n_v", ge=8, le=20_000, integer=True)
        if self.n_m is not None:
            check.scalar(self, "n_m", ge=8, le=200_000, integer=True)
        for name in ("v_below", "v_above", "tol_inner", "tol_outer", "tol_fixed"):
            check.scalar(self, name, gt=0.0)
        for name in ("max_iter_inner", "max_iter_outer", "max_iter_fixed"):
            check.scalar(self, name, ge=1, integer=True)
        check.scalar(self, "damping_hi", gt=0.0, le=1.0)
        check.done()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Start(Record):
    """Where a cold solve starts: (J,) populations (rescaled to sum one) and optionally
    multipliers w (default ones). With agglomeration the planner's first-order
    conditions have several stationary points (in the synthetic AL-MA-WA economy the
    first best from uniform populations puts 49% in AL with newborn welfare 0.970,
    from the status quo's populations 0.8% in AL with 0.981), so start where the
    comparison is meant: at the status quo (``population=sq.population``)."""

    population: np.ndarray
    w: np.ndarray | None = None

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        L = check.array(self, "population", ndim=1, gt=0.0)
        if self.w is None and L is not None:
            object.__setattr__(self, "w", np.ones(L.shape[0]))
        check.array(self, "w", ndim=1, shape=None if L is None else L.shape, gt=0.0)
        check.done()
