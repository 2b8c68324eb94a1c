"""Production and trade of Dvorkin's economy (papers/000, section 3.3-3.4, eqs. 13-18),
solved for one period's temporary equilibrium given the factor supplies L, K by market.

Markets l = n I + i (region n = 0..N-1, industry i = 0..I-1). Firms in (n, i) combine
capital and labour (value-added share gamma^{ni}, capital share xi^n) with materials
(io[n, i, k] = gamma^{ni,nk}); varieties are Fréchet (vartheta^i) and traded at iceberg
costs kappa[i, m, n] >= 1 from origin m to destination n; final goods are Cobb-Douglas
(zeta^i). With nominal factor prices P^n w~ = gamma (1 - xi) R / L and P^n r~ = gamma xi R
/ K (eqs. 17-18, R^{ni} the gross output of (n, i)), the unit cost (13) is
log x^{ni} = gamma^{ni} log R^{ni} + log B^{ni} + gamma^{ni}[xi log(gamma xi)
+ (1 - xi) log(gamma (1 - xi)) - xi log K^{ni} - (1 - xi) log L^{ni}]
+ sum_k gamma^{ni,nk} log P^{nk}, and the price index (14), trade shares (15) and goods
market clearing (16) are those of the CDP static block, which is reused
(``dynamic_spatial.cdp_static.solve_static``). The Fréchet constants Gamma^{ni} are one
(absorbed into A).

The link between the households' gross returns and the firms' real factor prices (the
paper leaves it implicit; chosen here): a unit of effective human capital or of assets
supplied in market l keeps its value net of depreciation and earns the real rental, so

    w_l = 1 - delta_h + w~_l,    r_l = 1 - delta_k + r~_l,

with w~_l = gamma (1 - xi) R / (P^n L_l), r~_l = gamma xi R / (P^n K_l), real in units of
region n's final-good basket (fn 14). A worker's budget c + W' = w h + r k (h, k the
effective stocks tau nu eps h and psi eps k supplied) then spends, on newly produced final
goods, c + (W' - (1 - delta_h) h - (1 - delta_k) k) = w~ h + r~ k: consumption plus net
investment equals factor income. Summing over the workers of region n, final demand (the
paper's C_n in eq. 16, read as consumption plus net investment) is region n's value added
sum_i gamma^{ni} R^{ni}, so every region's trade is balanced and Walras' law holds: the
value of world final demand equals world value added (tested). Retirement is the
terminal value of eq. (8): retirees neither supply factors nor buy new goods. Wealth is
carried across regions at par in real units (the household problem is written in real
terms). Nominal prices are normalised by world value added sum gamma R = 1; real factor
prices do not depend on the normalisation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..dynamic_spatial import cdp_static
from ..dynamic_spatial.cdp_params import Structure, expenditure
from ..errors import Described, InvalidParamsError, SolverConvergenceError, Violation
from ..protocol import Record, readonly
from ..validation import Checker

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Production(Record):
    """Technology, trade and final demand (eqs. 13-18) and the return link.

    gamma_va: (N, I) value-added shares gamma^{ni} in (0, 1]; io: (N, I, I) materials
    shares io[n, i, k] = gamma^{ni,nk} >= 0 with gamma_va + io.sum(-1) = 1 (None: no
    materials, gamma_va must then be one); xi: (N,) capital share of value added in
    (0, 1); vartheta: (I,) Fréchet trade elasticities > 0; zeta: (I,) final-good shares,
    positive, summing to one; A: (N, I) productivity > 0; kappa: (I, N, N) iceberg costs
    >= 1, kappa[i, m, n] from origin m to destination n (None: free trade). delta_h,
    delta_k in [0, 1]: depreciation of effective human capital and assets per period.
    """

    gamma_va: np.ndarray
    xi: np.ndarray
    vartheta: np.ndarray
    zeta: np.ndarray
    A: np.ndarray
    io: np.ndarray | None = None
    kappa: np.ndarray | None = None
    delta_h: float = 0.0
    delta_k: float = 0.0

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        g = check.array(self, "gamma_va", ndim=2, gt=0.0, le=1.0)
        N, I_ = (None, None) if g is None else g.shape
        check.array(self, "xi", ndim=1, shape=None if N is None else (N,), gt=0.0, lt=1.0)
        check.array(self, "vartheta", ndim=1, shape=None if I_ is None else (I_,), gt=0.0)
        z = check.array(self, "zeta", ndim=1, shape=None if I_ is None else (I_,), gt=0.0)
        if z is not None:
            check.require(abs(z.sum() - 1.0) <= 1e-10, "zeta", "must sum to one",
                          float(z.sum()))
        check.array(self, "A", ndim=2, shape=g.shape if g is not None else None, gt=0.0)
        io = check.array(self, "io", ndim=3, shape=None if g is None else (N, I_, I_),
                         ge=0.0, optional=True)
        if g is not None and (io is not None or self.io is None):
            total = g + (0.0 if io is None else io.sum(axis=-1))
            worst = float(np.max(np.abs(total - 1.0)))
            check.require(worst <= 1e-10, "gamma_va", "plus io.sum(-1) must equal one "
                          "(constant returns)", Described(f"off by {worst:.3g}"))
        check.array(self, "kappa", ndim=3, shape=None if N is None else (I_, N, N), ge=1.0,
                    optional=True)
        check.scalar(self, "delta_h", ge=0.0, le=1.0)
        check.scalar(self, "delta_k", ge=0.0, le=1.0)
        check.done()

    @property
    def n_regions(self) -> int:
        return int(self.gamma_va.shape[0])

    @property
    def n_industries(self) -> int:
        return int(self.gamma_va.shape[1])

    @property
    def n_markets(self) -> int:
        return self.n_regions * self.n_industries

    @property
    def materials(self) -> np.ndarray:
        N, I_ = self.gamma_va.shape
        return np.zeros((N, I_, I_)) if self.io is None else self.io

    @property
    def trade_costs(self) -> np.ndarray:
        N, I_ = self.gamma_va.shape
        return np.ones((I_, N, N)) if self.kappa is None else self.kappa


@dataclass(frozen=True, slots=True, kw_only=True)
class Static:
    """One period's temporary equilibrium (arrays by market l = n I + i unless shaped).

    R (N, I): gross output (world value added is one); log_P (N, I): log P^{ni};
    log_Pc (N,): log P^n, the final-good basket; pi (I, N, N): trade shares
    pi[i, m, n] of origin m in destination n's spending on i (eq. 15); X (N, I): spending
    X^{ni} (eq. 16); w_real, r_real (J,): w~, r~ (eqs. 17-18); w, r (J,): the gross returns
    1 - delta + w~, 1 - delta + r~; final_demand (N,): nominal final demand (value added).
    """

    R: np.ndarray
    log_P: np.ndarray
    log_Pc: np.ndarray
    pi: np.ndarray
    X: np.ndarray
    w_real: np.ndarray
    r_real: np.ndarray
    w: np.ndarray
    r: np.ndarray
    final_demand: np.ndarray
    n_iter: int
    residual: float


def solve_static(prod: Production, L: np.ndarray, K: np.ndarray, *,
                 structure: Structure | None = None, log_R0: np.ndarray | None = None,
                 tol: float = 1e-12, max_iter: int = 60) -> Static:
    """The temporary equilibrium given effective labour ``L`` and assets ``K`` (J,) by
    market. ``log_R0`` (N, I): a warm start for log gross output. Raises
    ``InvalidParamsError`` for bad supplies and ``SolverConvergenceError`` (from the CDP
    block) if the goods markets do not clear."""
    L, K = _supplies(prod, L, K)
    s = make_structure(prod) if structure is None else structure
    log_g = make_trade_kernel(prod, s)
    off = cost_offset(prod) - prod.gamma_va * ((1.0 - prod.xi)[:, None] * np.log(L)
                                               + prod.xi[:, None] * np.log(K))
    if log_R0 is None:  # value added of a closed Cobb-Douglas market, over gamma
        y0 = np.log(prod.A) + (1.0 - prod.xi)[:, None] * np.log(L) \
            + prod.xi[:, None] * np.log(K) - np.log(prod.gamma_va)
    else:
        y0 = np.asarray(log_R0, dtype=float)
    return _collect(prod, clear_goods(s, log_g, off, y0, 1.0, tol, max_iter), L, K)


def clear_goods(s: Structure, log_g, off, y0, world: float, tol: float, max_iter: int):
    """The CDP block's Newton on log output (``cdp_static.solve_static``); if it fails from
    y0 (its line search on the largest residual stalls from starts a log point or more
    off: seen at N = 10, I = 4), the damped fixed point y <- y + (log F(y) - y) / (1 +
    vartheta^i gamma^{ni}) (the own-cost elasticity of sales is about -vartheta gamma, so a
    plain half step oscillates and diverges; this one contracts at about 0.75 per step in
    the tests) brings the largest gap below 1e-4, then Newton again. Raises
    ``SolverConvergenceError`` if that fails too."""
    N, I_ = s.n_regions, s.n_sectors
    try:
        return cdp_static.solve_static(s, log_g, off, y0, np.zeros((N, I_)), world, tol=tol,
                                       max_iter=max_iter)
    except SolverConvergenceError:
        logger.debug("hadsge static block: Newton failed; damped fixed point first")
    y, p = np.array(y0, dtype=float), np.zeros((N, I_))
    for _ in range(2000):
        p, lam = cdp_static.solve_prices(s, log_g, s.gamma_va * y + off, p, tol)
        F = np.einsum("jin,nj->ij", lam, expenditure(np.exp(y), s))
        gap = np.log(F) - y
        if float(np.max(np.abs(gap))) <= 1e-4:
            break
        y = y + gap / (1.0 + s.theta[None, :] * s.gamma_va)
        y -= np.log(np.sum(s.gamma_va * np.exp(y)))
    return cdp_static.solve_static(s, log_g, off, y, p, world, tol=tol, max_iter=max_iter)


def make_pricer(prod: Production, tol: float = 1e-12, max_iter: int = 60):
    """(L, K, log_R0) -> ``solve_static`` in levels, with the structure built once."""
    s = make_structure(prod)

    def pricer(L, K, log_R0=None) -> Static:
        return solve_static(prod, L, K, structure=s, log_R0=log_R0, tol=tol,
                            max_iter=max_iter)

    return pricer


def make_structure(prod: Production) -> Structure:
    """The CDP shares for the reused static block. All value added is region n's income
    (final demand = value added), which is CDP's expenditure with structures share zero;
    the capital share enters through the cost offset instead (``cost_offset``)."""
    N = prod.n_regions
    return Structure(beta=0.5, nu=1.0, theta=prod.vartheta, alpha=prod.zeta,
                     gamma_va=prod.gamma_va, io=prod.materials, xi=np.zeros(N),
                     non_employment=False)


def make_trade_kernel(prod: Production, s: Structure | None = None) -> np.ndarray:
    """(I, N, N) -vartheta^i log kappa[i, m, n] + vartheta^i gamma^{mi} log A^{mi}."""
    s = make_structure(prod) if s is None else s
    return cdp_static.kernel_shift(s, np.log(prod.trade_costs)[None],
                                   np.log(prod.A)[None])[0]


def cost_offset(prod: Production) -> np.ndarray:
    """(N, I) log B^{ni} + gamma^{ni}[xi log(gamma xi) + (1 - xi) log(gamma (1 - xi))]:
    the part of log x^{ni} (eq. 13) that depends on neither R, L, K nor prices."""
    g, xi = prod.gamma_va, prod.xi[:, None]
    shares = np.concatenate([(g * xi)[..., None], (g * (1.0 - xi))[..., None],
                             prod.materials], axis=2)
    log_B = -np.sum(_xlogx(shares), axis=2)
    return log_B + g * (xi * np.log(g * xi) + (1.0 - xi) * np.log(g * (1.0 - xi)))


def _collect(prod: Production, st, L, K) -> Static:
    R = np.exp(st.y)
    log_Pc = st.p @ prod.zeta - float(np.sum(prod.zeta * np.log(prod.zeta)))
    va = prod.gamma_va * R
    pay = va / np.exp(log_Pc)[:, None]
    w_real = ((1.0 - prod.xi)[:, None] * pay / L).ravel()
    r_real = (prod.xi[:, None] * pay / K).ravel()
    return Static(R=readonly(R), log_P=readonly(st.p), log_Pc=readonly(log_Pc),
                  pi=readonly(st.lam), X=readonly(st.E), w_real=readonly(w_real),
                  r_real=readonly(r_real), w=readonly(1.0 - prod.delta_h + w_real),
                  r=readonly(1.0 - prod.delta_k + r_real),
                  final_demand=readonly(va.sum(axis=1)), n_iter=st.n_iter,
                  residual=st.residual)


def _supplies(prod: Production, L, K) -> tuple[np.ndarray, np.ndarray]:
    N, I_ = prod.n_regions, prod.n_industries
    out, problems = [], []
    for name, arr in (("L", L), ("K", K)):
        a = np.asarray(arr, dtype=float)
        if a.shape != (N * I_,):
            problems.append(Violation(name, f"must have shape {(N * I_,)}", a.shape))
        elif not np.all(np.isfinite(a) & (a > 0.0)):
            problems.append(Violation(name, "must be finite and > 0", float(np.min(a))))
        out.append(a.reshape(N, I_) if a.shape == (N * I_,) else a)
    if problems:
        raise InvalidParamsError("hadsge.solve_static", problems)
    return out[0], out[1]


def _xlogx(a) -> np.ndarray:
    return np.where(a > 0.0, a * np.log(np.where(a > 0.0, a, 1.0)), 0.0)
