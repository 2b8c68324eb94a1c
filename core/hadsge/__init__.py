"""hadsge: Dvorkin's heterogeneous-agents dynamic spatial general equilibrium
(Dvorkin 2023, St. Louis Fed WP 2023-005; papers/000, sections 3-4).

Overlapping generations of workers (ages a = 0 entrant .. A - 1, retired at A) with log
utility choose each period a labour market l among J (region x industry), carrying
effective wealth W = h + k of which theta = h / W is human capital; switching from j
to l keeps tau_jl of h and psi_jl of k and costs utility log chi_jl; Fréchet
opportunity shocks eps_l (shape alpha, scale lam_l) and a log-normal shock nu scale
returns: c + W' = omega_jl(theta, nu) eps_l W, omega_jl = w_l tau_jl nu theta
+ r_l psi_jl (1 - theta). Built here (see docs/notation.md for the symbols):

- Proposition 1 in closed form (``kernels``): c = (1 - beta) omega eps W,
  W' = beta omega eps W, the value v by log-sum-exp and the logit shares mu.
- The human-capital share: one scalar root per (age, market) of eq. (11) at a = A
  (Krebs 2003) and eq. (12) below, with Gauss-Hermite over nu; theta in [0, 1], at a
  corner (the condition has one sign on [0, 1]) theta is 0 or 1 and satisfies the
  Kuhn-Tucker condition. ``Numerics.share_rule="lemma1"`` uses Lemma 1's approximations.
- Proposition 2 (``aggregate``) and simulated histories (``simulate``).
- The section-4.1 example (``examples``) and its event study, Figure 2 (``event_study``).
- Production and trade, eqs. 13-18 (``production``), on the CDP static block, with the
  return link w = 1 - delta_h + w~, r = 1 - delta_k + r~ and final demand = consumption +
  net investment = value added (Walras' law); the GE steady state (``equilibrium``),
  perfect-foresight transitions after a permanent change in productivity or trade costs
  (``path``, ``transition``) and the dynamic exact hat algebra of Proposition 3, derived
  in ``hat``'s docstring (tau = psi; chi_jj = 1).

Readings of the paper fixed here:

- nu's normalisation: ``Params.nu_mean_one`` (default True: E[nu] = 1, giving the
  paper's theta ~ 0.3 at the section-4.1 numbers; False: log nu ~ N(0, s^2) as Lemma 1
  writes, giving theta ~ 0.8 there).
- Typos: alpha log lam_l sits outside the alpha (1 - beta)[...] bracket of Proposition 1
  (Lemma 1 and Proposition 2 agree); in (11) w nu is w nu'; (12) is for age a + 1 <= A-1;
  Lambda^{a+1}_l = sum_j mu_jl Lambda_j (without the printed "= 1").
- A tilde is a log (section 3.2), in Lemma 1 and in section 4.1: w~ = 10% is a gross
  w = e^0.1 = 1.105 (fn 16's "1.1"); tau~ = log tau.
- Retirees (age A) consume their wealth and supply no factors (the paper is silent).
- Proposition 2 takes the expectations over nu of the exact, nu-dependent choice shares.

- The simulation hook (``statistics``, ``ModelSpec.simulate``): mobility, switcher-stayer
  gaps, asset growth and event-study coefficients of a simulated cohort, the statistics
  of the indirect-inference exercise (configs/estimation/ii_hadsge.yaml).

The registered ``solve`` is the household block at given returns (the GE entry points
are functions of this package).
"""

from ..protocol import ModelSpec
from .aggregate import aggregate
from .equilibrium import solve_steady_state
from .event_study import EventStudy, event_study, market_shock, plot_event_study
from .examples import example_params
from .hat import Observables, observe, pseudo_params, solve_transition_hat
from .household import make_age_arrays, make_nu_quadrature, solve_household
from .params import SHARE_RULES, GENumerics, Numerics, Params
from .production import Production, Static, solve_static
from .result import MOMENT_INFO, MOMENTS, PARAM_INFO, Aggregates, Household, Solution, SteadyState
from .simulate import Histories, simulate_cohort
from .solve import solve
from .statistics import SIMULATED, SIMULATED_INFO, simulate_statistics
from .transition import Transition, solve_transition

MODEL = ModelSpec(
    name="hadsge",
    description="Dvorkin heterogeneous-agents dynamic spatial GE: closed-form households, "
    "human-capital shares, mobility, aggregation (household block at given returns)",
    Params=Params,
    Numerics=Numerics,
    solve=solve,
    source="papers/000 (Dvorkin 2023), sections 3-4",
    region_shock=market_shock,
    moment_names=tuple(MOMENTS),
    moment_info=MOMENT_INFO | SIMULATED_INFO,
    param_info=PARAM_INFO,
    simulate=simulate_statistics,
    simulated_names=tuple(SIMULATED),
)

__all__ = [
    "MODEL",
    "MOMENTS",
    "SHARE_RULES",
    "SIMULATED",
    "Aggregates",
    "EventStudy",
    "GENumerics",
    "Histories",
    "Household",
    "Numerics",
    "Observables",
    "Params",
    "Production",
    "Solution",
    "Static",
    "SteadyState",
    "Transition",
    "aggregate",
    "event_study",
    "example_params",
    "make_age_arrays",
    "make_nu_quadrature",
    "market_shock",
    "observe",
    "plot_event_study",
    "pseudo_params",
    "simulate_cohort",
    "simulate_statistics",
    "solve",
    "solve_household",
    "solve_static",
    "solve_steady_state",
    "solve_transition",
    "solve_transition_hat",
]
