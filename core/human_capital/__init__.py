"""Huggett-Kaplan: the value of human capital, its return, and its bond, stock and
orthogonal components (Huggett and Kaplan 2015, NBER WP 21238; papers/004).

An agent with Epstein-Zin preferences W(c, F(V')) (section 4: inverse IES gamma, risk
aversion alpha, survival psi) chooses consumption, bond and stock holdings (no short
sales of the stock; bond borrowing up to a limit, zero by default, capped at the natural
limit) in a life cycle j = 1..J. Everything is normalised by the
earnings scale z (Lemmas 1-3, appendix A.2): xhat = x / z. Built here:

- Backward induction (A.2.1; EGM with a portfolio step): the stock share of savings
  solves E[c'^-gamma (V'/F)^(gamma-alpha) (R^s - R^b)] = 0 on [0, 1], consumption
  c^-gamma = beta psi E[c'^-gamma (V'/F)^(gamma-alpha) R^p] (A.2.1 (1')-(2')).
- The SDF m = beta psi (c'/c)^-gamma (V'/F(V'))^(gamma-alpha) and the value
  v_j = E[m (v_{j+1} + e_{j+1})], v_J = 0 (A.2.2 (**), normalised as in Lemma 2);
  the naive value v^n_j = E[v^n_{j+1} + e_{j+1}] / (1 + r) (A.2.2); R^h = y / v.
- The decomposition (A.2.3): project y = v_{j+1} + e_{j+1} on (R^b, R^s) with the
  uncentred conditional normal equations; share^i = a^i E[m R^i] / v, orthogonal
  share E[m eps] / v.
- Age profiles over simulated survivors (Figures 4-6; per-state ratios averaged by
  age, fn 18 and 23): ``simulate.simulate_profiles``.
- Economies: ``params.Params`` has iid lognormal earnings growth (the section-2.4
  permanent-shock example, whose closed forms are in ``closed_form``) and an iid
  lognormal stock return correlated with it; ``params.MarkovParams`` takes any finite
  chain (growth, earnings and returns by state; retirement as growth one; an age-1
  distribution), the form the section-4 process takes once discretised.
- The section-4 benchmark (``benchmark.BenchmarkParams``, ``make_benchmark_economy``;
  registered as ``human_capital_benchmark``): Tables 1-2 through the shared discretisers
  ``numerics.skewed`` (generalised-normal shocks, a regime-dependent skewed AR(1)) and
  ``numerics.var`` (the bivariate VAR of eq. 4), social security, a life table; its
  placeholders are listed in ``benchmark``, as are the switches of the section-6
  perturbations (Figures 7-8: no persistent or transitory shocks, no skewness, no
  cyclicality).
- beta recalibrated to a wealth-income ratio (section 4: 3.5 in every economy) by a
  bracketed root-find on the moment ``wealth_income_ratio``: ``calibrate.calibrate_beta``,
  and ``BenchmarkParams.wealth_income_target`` for the benchmark's solves and sweeps.

Typos in the paper's text (papers/004): A.2.3 writes the residual as
eps = y - a^b R^b + a^s R^s; the orthogonality conditions it imposes need
eps = y - a^b R^b - a^s R^s (used here). Section 4 calls rho the inverse IES but its
formulas use gamma (here gamma). Fn 18 and the Figure-4 notes cite "Figure 3".

Conventions: ``LifeCycle.at(age, xhat, state)`` uses ages 1..J as the paper; kernels are
0-based.
With gamma = 1 the aggregator is c^(1-beta) F^beta and the last age's value is c
(survival must be one). See docs/notation.md for the symbol table.
"""

from ..moment_info import MomentInfo
from ..protocol import ModelSpec
from .benchmark import BenchmarkParams, make_benchmark_economy
from .calibrate import calibrate_beta
from .closed_form import beta_hand_to_mouth, discount_q, hand_to_mouth_values
from .params import MarkovParams, Numerics, Params
from .result import MOMENT_INFO, MOMENTS, LifeCycle, PointValues
from .shocks import Shocks, gauss_hermite_normal, make_shocks
from .simulate import PROFILES, AgeProfiles, Panel, simulate_panel, simulate_profiles
from .solve import make_savings_nodes, solve

#: Labels of the Params fields sweeps vary (tables and plots; hetspace.core.moment_info).
PARAM_INFO = {
    "beta": MomentInfo("Discount factor β"),
    "gamma": MomentInfo("Inverse IES γ"),
    "alpha": MomentInfo("Risk aversion α"),
    "r": MomentInfo("Bond return r", "% per period", "percent"),
    "mu_z": MomentInfo("Mean log earnings growth μ_z"),
    "sigma_z": MomentInfo("Std of log earnings growth σ_z"),
    "mu_s": MomentInfo("Mean log stock return μ_s"),
    "sigma_s": MomentInfo("Std of log stock return σ_s"),
    "corr": MomentInfo("Correlation of stock returns and earnings growth"),
    "wealth_1": MomentInfo("Initial wealth", "x earnings e_1"),
    "borrowing": MomentInfo("Bond borrowing limit", "x earnings scale z"),
    "stock": MomentInfo("Stock available"),
    "hold_stock": MomentInfo("Stock may be held"),
}

MODEL = ModelSpec(
    name="human_capital",
    description="Huggett-Kaplan life-cycle portfolio problem: SDF value of human capital, "
    "naive value, bond/stock/orthogonal decomposition",
    Params=Params,
    Numerics=Numerics,
    solve=solve,
    source="papers/004 (Huggett and Kaplan 2015), sections 2, 4 and appendix A.2",
    moment_names=tuple(MOMENTS),
    moment_info=MOMENT_INFO,
    param_info=PARAM_INFO,
)

__all__ = [
    "MODEL",
    "MOMENTS",
    "MOMENT_INFO",
    "PARAM_INFO",
    "PROFILES",
    "AgeProfiles",
    "BenchmarkParams",
    "LifeCycle",
    "MarkovParams",
    "Numerics",
    "Panel",
    "Params",
    "PointValues",
    "Shocks",
    "beta_hand_to_mouth",
    "calibrate_beta",
    "discount_q",
    "gauss_hermite_normal",
    "hand_to_mouth_values",
    "make_benchmark_economy",
    "make_savings_nodes",
    "make_shocks",
    "simulate_panel",
    "simulate_profiles",
    "solve",
]
