"""Registry entry of the section-4 benchmark economy: ``human_capital_benchmark``.

``MODEL.solve(params, numerics=None, warm_start=None)`` builds the chain of
``benchmark.make_benchmark_economy`` from a :class:`benchmark.BenchmarkParams` (risk
aversion, IES, beta, sample, borrowing limit, initial wealth, chain sizes) and solves it
with the general life-cycle solver (``solve.solve``); the solution is a ``LifeCycle`` whose
``params`` are the chain's ``MarkovParams`` and whose ``moments()`` are ``result.MOMENTS``.
With ``wealth_income_target`` the solve recalibrates beta to that wealth-income ratio
(``calibrate.calibrate_beta``, several solves). The discretisation is cached per process
(it depends on the sample and the sizes only), so a sweep over preferences or borrowing
limits pays it once per actor.
"""

from __future__ import annotations

from ..moment_info import MomentInfo
from ..protocol import ModelSpec
from .benchmark import FIRST_AGE, BenchmarkParams, make_benchmark_economy
from .calibrate import calibrate_beta
from .params import Numerics
from .result import MOMENTS, LifeCycle, moment_info
from .solve import solve

#: Labels and units of the BenchmarkParams fields that sweeps vary (axes of tables and
#: plots; hetspace.core.moment_info).
PARAM_INFO = {
    "alpha": MomentInfo("Risk aversion α"),
    "ies": MomentInfo("Intertemporal elasticity 1/γ"),
    "beta": MomentInfo("Discount factor β"),
    "sample": MomentInfo("Sample (Tables 1-2)"),
    "borrowing": MomentInfo("Bond borrowing limit", "x earnings scale z_1"),
    "wealth_1": MomentInfo("Initial wealth at 22", "x mean earnings at 22"),
    "tau": MomentInfo("Tax rate τ"),
    "persistent": MomentInfo("Persistent shocks ζ"),
    "transitory": MomentInfo("Transitory shocks v"),
    "skewness": MomentInfo("Skewed persistent innovations"),
    "cyclical": MomentInfo("Cyclical persistent innovations"),
    "wealth_income_target": MomentInfo("Wealth-income ratio β is calibrated to"),
}


def solve_benchmark(params: BenchmarkParams, numerics: Numerics | None = None,
                    warm_start: LifeCycle | None = None) -> LifeCycle:
    """Solve the section-4 economy ``params`` (``warm_start`` unused, as in ``solve``);
    with ``params.wealth_income_target``, at the beta that gives that wealth-income ratio
    (``calibrate.calibrate_beta``; the solution's ``params.beta`` and the moment
    ``discount_factor`` are that beta)."""
    economy = make_benchmark_economy(params)
    if params.wealth_income_target is None:
        return solve(economy, numerics, warm_start)
    return calibrate_beta(economy, params.wealth_income_target, numerics)


MODEL = ModelSpec(
    name="human_capital_benchmark",
    description="Huggett-Kaplan section-4 benchmark: Table 1-2 earnings and stock returns "
    "(skewed, cyclical idiosyncratic shocks; VAR aggregates), social security, life table; "
    "value of human capital and its bond/stock/orthogonal decomposition",
    Params=BenchmarkParams,
    Numerics=Numerics,
    solve=solve_benchmark,
    source="papers/004 (Huggett and Kaplan 2015), sections 3-5, Tables 1-4, appendix A.2",
    moment_names=tuple(MOMENTS),
    moment_info=moment_info(FIRST_AGE),  # age profiles labelled by real age (22 = model age 1)
    param_info=PARAM_INFO,
)
