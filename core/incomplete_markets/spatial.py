"""The spatial closure (Donald-Fukui-Miyauchi section 4, appendix B.2.1).

Given wages w and populations L (shares, summing to one; w[0] = 1 is the
numeraire) the goods-market block gives

    P_j      = [sum_i (w_i / (A_ij L_i^alpha))^(1-sigma)]^(1/(1-sigma))     (B.22)
    lam_ij   = (w_i / (A_ij L_i^alpha))^(1-sigma) / P_j^(1-sigma)            (B.1)
    T_j      = kappa_j w_j + T_bar,  T_bar = -sum_j L_j kappa_j w_j / sum_j L_j   (47)

The household block then clears the bond market by r (the 'bond' closure at
these prices) and returns the stationary distribution. Equilibrium requires

    w_i H_i = sum_j lam_ij E_j,   E_j = P_j integral C_j dphi_j              (B.23)
    L_j     = integral dphi_j                                                 (B.24)

where H_i = integral e dphi_i is effective labour (= L_i with one income state).

Government budget convention: DFM eq. 47 reads sum_k T_k = 0 with T_k the
transfer to location k as a whole; in the budget (44) every household of k
receives T_k, so in per-capita terms the balanced budget is sum_k L_k T_k = 0,
which is what T_bar enforces (it is also what makes Walras' law hold).

The outer problem solves B.23-B.24 and the bond market together by a
globalised quasi-Newton method (``core.numerics.newton``) on the residual block
of ``spatial_outer``: unknowns (log w_2..J, log population ratios, r), one
household solve per evaluation, a Jacobian whose household part comes from the
implicit function theorem at a converged household (``steady_derivatives``;
warm starts reuse the previous solution's, with Broyden updates). Household solves are
warm-started from the previous evaluation and inexact while the residuals are
large. J = 1 is the bond closure at P = 1 / A_11 (nothing else to iterate).

Existence and uniqueness. With agglomeration a spatial equilibrium can be
non-unique: more people raise a location's productivity (elasticity alpha_agg)
and so its real income, which draws more people. A permanent 1% rise of a
location's real consumption raises its households' values by about
c^(1-gamma) / (1 - beta omega) % of a util, and logit migration moves
population by theta times that, so near autarky the loop gain is about

    g = alpha_agg theta / (1 - beta omega)        (``agglomeration_gain``)

(trade spreads a location's productivity over its buyers, which only lowers the
gain; at the DFM calibration g = 0.04 x 0.5 / 0.0247 = 0.81). The solver relies
on g < 1 and alpha_agg (sigma_trade - 1) < 1 (agglomeration weaker than the
congestion of a location's own goods price): with both, the equilibrium found
from the cold start is the one the continuation below reaches. Where either
fails, solve warns (``UnstableAgglomerationWarning``), still looks for an
equilibrium, and on failure says that the condition fails.

Cold starts: Newton from the equilibrium of the same economy without assets
(``SpatialBlock.representative_start``: households consume their income, values
and logit migration in closed form; a small root-finding problem), then r from a
loose bond search at those prices and populations where its households live. If
Newton fails, it is tried again from w = 1 and uniform populations with
difference Jacobians, as before the implicit ones (theta = 4 in the 48-location economy
converges only that way today: 21 Newton steps, 11 Jacobians, 170,000 EGM steps, 280 s
CPU at gamma = 1; 87,000 and 220 s at gamma = 3). There the household cannot be solved
at the representative start's prices: its second EGM step finds an endogenous grid that
is not increasing (the logit continuation value is not concave when incomes differ
much and theta is high). Savings from the upper envelope of the Euler equation's
solutions (Iskhakov et al. 2017) were tried for such steps: the household iteration
then did not settle within 300 s at those prices, so the kernel still reports the
grid and the fallback above takes over; then a
continuation walks from an economy without agglomeration and with theta at most
0.1 (where the outer problem is nearly the bond market alone) to the target,
geometrically in theta and linearly in alpha_agg, warm-starting each step
(``_continuation``). A warm start from another economy that Newton does not
reach is walked from (``_warm_walk``: every fundamental that differs moves along
the path at once, in steps halved on failure); in the robustness sweep of the
48-location economy warm solves across its grid's big moves failed and the
actors' cold retries took 1,200-1,700 s each. A :class:`~.params.Guess` with wages
and populations is tried first, before that sequence; a Guess's r starts the bond
searches.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from types import MappingProxyType

import numpy as np

from ..errors import InvalidParamsError, SolverConvergenceError
from ..numerics.newton import newton_solve
from .bond import solution_from, solve_market
from .goods import price_index, transfers
from .params import Guess, Numerics, Params
from .result import Solution
from .spatial_outer import SpatialBlock
from .steady_derivatives import policy_lu

__all__ = ["price_index", "solve_spatial", "transfers", "uniqueness_condition"]

logger = logging.getLogger(__name__)

THETA_EASY = 0.1
MIN_STEP = 1.0 / 16.0
# Newton steps a walk step may take before it is halved: a step warm-started from the
# last one converges in 3-5 (quadratically); one still going after 15 is cheaper to halve
# than to finish (it could spend max_iter_spatial, 60 steps with their Jacobians)
WALK_MAX_ITER = 15
MAX_STEP = 2.0  # a Newton step moves w or a population ratio by at most e^2, r by 0.002


class UnstableAgglomerationWarning(UserWarning):
    """The sufficient condition for a unique spatial equilibrium fails (spatial.py)."""


def agglomeration_gain(params: Params) -> float:
    """g = alpha_agg theta / (1 - beta omega): see the module docstring."""
    return params.alpha_agg * params.theta / (1.0 - params.beta * params.omega)


def uniqueness_condition(params: Params) -> str | None:
    """None when the documented sufficient condition holds, else what fails."""
    g = agglomeration_gain(params)
    if g >= 1.0:
        return (f"agglomeration gain alpha_agg theta / (1 - beta omega) = {g:.3g} >= 1: "
                "the equilibrium may not be unique or not reachable from this start")
    if params.alpha_agg * (params.sigma_trade - 1.0) >= 1.0:
        return (f"alpha_agg (sigma_trade - 1) = {params.alpha_agg * (params.sigma_trade - 1):.3g}"
                " >= 1: agglomeration beats the congestion of own goods prices")
    return None


def solve_spatial(params: Params, numerics: Numerics,
                  warm_start: Solution | Guess | None = None) -> Solution:
    """Stationary equilibrium of the spatial closure; see the module docstring.

    ``warm_start`` (any Solution with the same J, S, n_a) supplies wages,
    populations, r, the bond-market slope, the outer Jacobian and the household
    policies, values and distribution; when Newton from it fails, a walk from its
    fundamentals to ``params`` follows (``_warm_walk``), but no cold retry (the
    caller decides). A Guess is a cold start that begins at its
    (w, population) and r. The returned Solution carries the equilibrium in w, P,
    T and r, and ``params`` unchanged; residuals add goods_market,
    population (relative, <= tol_spatial), bond_step_r (the r part of the Newton
    step, <= bond_tol_r, see ``spatial_outer``), outer_iterations (Newton steps),
    jacobians, egm_steps (EGM steps of every household solve), chord_steps (of those,
    the ones followed by a chord correction, ``household._chord``) and
    agglomeration_gain.
    """
    if params.n_loc == 1:
        return _one_location(params, numerics, warm_start)
    problem = uniqueness_condition(params)
    if problem is not None:
        warnings.warn(f"spatial closure: {problem}", UnstableAgglomerationWarning, stacklevel=3)
    guess = warm_start if isinstance(warm_start, Guess) else None
    if guess is not None:
        warm_start = None
        if guess.w is not None:
            try:
                return _newton(params, numerics, None, representative=False, guess=guess)
            except SolverConvergenceError as err:
                logger.info("spatial Newton from the Guess failed (%s); cold start", err)
    try:
        return _newton(params, numerics, warm_start, guess=guess)
    except SolverConvergenceError as first:
        if warm_start is not None:
            return _warm_walk(params, numerics, warm_start, first)
        logger.info("spatial Newton from the representative start failed (%s); uniform "
                    "start", first)
        try:
            return _newton(params, numerics, None, representative=False,
                           guess=None if guess is None else guess.with_(w=None, population=None))
        except SolverConvergenceError as second:
            logger.info("spatial Newton from the uniform start failed (%s); continuation",
                        second)
        try:
            return _continuation(params, numerics)
        except SolverConvergenceError as e:
            hint = f"; {problem}" if problem else ""
            raise SolverConvergenceError(
                f"spatial equilibrium not found: Newton from the cold start ({first}) and the "
                f"continuation ({e}) failed{hint}", residuals=first.residuals,
                n_iter=first.n_iter) from e


def _newton(params: Params, numerics: Numerics, warm: Solution | None,
            representative: bool = True, guess: Guess | None = None,
            max_iter: int | None = None) -> Solution:
    """Newton on the spatial block from warm (or a cold start); at most max_iter steps
    (default and cap: numerics.max_iter_spatial)."""
    block = SpatialBlock(params, numerics, warm, representative, guess)
    x0, jac0 = block.start()
    cap = numerics.max_iter_spatial if max_iter is None else min(max_iter,
                                                                 numerics.max_iter_spatial)
    out = newton_solve(block.residual, x0, block.jacobian, done=block.done, jac0=jac0,
                       jac0_fresh=block.jacobians > 0, max_iter=cap,
                       max_step=MAX_STEP, update=block.update)
    if not out.converged:
        raise SolverConvergenceError(
            f"spatial goods market / population / bonds did not converge: {out.message} "
            f"(max |F| {np.max(np.abs(out.F)):.3g} after {out.n_iter} Newton steps)",
            residuals=block.residuals(), n_iter=out.n_iter)
    w, _, P, T, r = block.prices_at_solution
    sol = solution_from(params.with_trusted(w=w, P=P, T=T, r=r), numerics, block.state,
                        n_iter=block.calls, slope=block.slope, given=params)
    residuals = dict(sol.residuals)
    residuals.update(block.residuals(), outer_iterations=float(out.n_iter),
                     jacobians=float(block.jacobians), egm_steps=float(block.egm_steps),
                     chord_steps=float(block.chord_steps),
                     agglomeration_gain=agglomeration_gain(params))
    chord = block.chord
    if warm is None and chord is not None:
        chord = _policy_lu_at(block.state, params.with_trusted(
            closure="partial", r=r, w=w, P=P, T=T)) or chord
    return dataclasses.replace(sol, residuals=MappingProxyType(residuals),
                               household_jacobian=block.H_p, policy_lu=chord)


def _policy_lu_at(state, household_params: Params):
    """The LU of I - Phi_z at a cold solve's solution, for the warm starts from it (None
    if it cannot be had). The cold solve's own LU is the first Newton iterate's, too far
    for chord steps at later prices: warm re-solves of the 48-location economy after 1%
    changes took 160-162 EGM steps from it and 112-136 from one at the solution, for
    1 s of CPU once (the LU), against 1.2-2 s per warm solve."""
    try:
        return policy_lu(state, household_params)
    except (ValueError, RuntimeError) as err:  # a singular LU
        logger.debug("no LU at the solution (%s)", err)
        return None


def _continuation(params: Params, numerics: Numerics) -> Solution:
    """From (theta <= THETA_EASY, alpha_agg = 0) to params, warm-starting each step."""
    theta0 = min(params.theta, THETA_EASY)

    def at(t: float) -> Params:
        return params.with_(theta=theta0 ** (1.0 - t) * params.theta ** t,
                            alpha_agg=t * params.alpha_agg)

    start = _newton(at(0.0), numerics, None)
    return _walk(at, params, numerics, start, [start], step=0.25)


# fundamentals a walk between two economies may move (the rest must be equal), and those
# of them it moves geometrically (positive; their logs enter the model)
WALKED = ("gamma", "beta", "omega", "a_low", "theta", "sigma_trade", "alpha_agg", "chi", "A",
          "kappa_transfer", "e_grid", "Pi")
GEOMETRIC = ("theta", "chi", "A")


def path_between(start: Params, end: Params):
    """t -> Params moving every fundamental that differs from ``start`` (t = 0) to ``end``
    (t = 1), linearly (geometrically for GEOMETRIC); None if they differ elsewhere
    (closure, sizes, flags) or not at all."""
    moving = {}
    for field in dataclasses.fields(Params):
        if field.name in Params.OUTPUTS:
            continue
        a, b = getattr(start, field.name), getattr(end, field.name)
        if a is None or b is None:
            if a is not b:
                return None
            continue
        a, b = np.asarray(a), np.asarray(b)
        if a.shape == b.shape and np.array_equal(a, b):
            continue
        if field.name not in WALKED or a.shape != b.shape:
            return None
        moving[field.name] = (a.astype(float), b.astype(float))
    if not moving:
        return None

    def at(t: float) -> Params:
        changes = {}
        for name, (a, b) in moving.items():
            v = a ** (1.0 - t) * b ** t if name in GEOMETRIC else (1.0 - t) * a + t * b
            changes[name] = float(v) if v.ndim == 0 else v
        return end.with_(**changes)

    return at


def _warm_walk(params: Params, numerics: Numerics, warm: Solution,
               failed: SolverConvergenceError) -> Solution:
    """After Newton from a warm start failed: walk from the warm start's fundamentals to
    params, warm-starting each step (the sweeps' big moves, e.g. theta 2 -> 4 with gamma
    1 -> 3 in the 48-location economy, where a cold solve takes minutes). Re-raises
    ``failed`` when there is no such path (another closure or size, a warm start that
    does not fit)."""
    at = path_between(warm.params, params)
    if at is None or not SpatialBlock.fits(warm, params, numerics):
        raise failed
    logger.info("spatial Newton from the warm start failed (%s); walking from its "
                "fundamentals", failed)
    try:
        return _walk(at, params, numerics, warm, [], step=0.5)
    except (SolverConvergenceError, InvalidParamsError) as e:
        raise SolverConvergenceError(
            f"{failed}; the walk from the warm start's fundamentals failed too ({e})",
            residuals=failed.residuals, n_iter=failed.n_iter) from e


def _walk(at, params: Params, numerics: Numerics, sol: Solution, work: list[Solution],
          step: float) -> Solution:
    """From sol (at t = 0) along at(t) to params (t = 1), warm-starting each step; a
    failed step (WALK_MAX_ITER Newton steps) is halved down to MIN_STEP of the path. The
    work counts add those of ``work`` (the solutions already paid for) and of every step
    that converged; ``failed_walk_steps`` counts the others."""
    t, failed = 0.0, 0
    while t < 1.0:
        t_new = min(1.0, t + step)
        try:
            sol = _newton(at(t_new) if t_new < 1.0 else params, numerics, sol,
                          max_iter=WALK_MAX_ITER)
        except SolverConvergenceError:
            failed += 1
            step *= 0.5
            if step < MIN_STEP:
                raise
            continue
        t, step = t_new, min(2.0 * step, 1.0)
        work.append(sol)
    calls = sum(s.n_iter for s in work)
    egm = sum(s.residuals["egm_steps"] for s in work)
    chord = sum(s.residuals["chord_steps"] for s in work)
    residuals = dict(sol.residuals, egm_steps=egm, chord_steps=chord,
                     continuation_steps=float(len(work) - 1), failed_walk_steps=float(failed))
    return dataclasses.replace(sol, n_iter=calls, residuals=MappingProxyType(residuals))


def _one_location(params: Params, numerics: Numerics, warm: Solution | None) -> Solution:
    """J = 1: L = 1, w = 1, T = 0, P = 1 / A_11, and the bond market cleared to tol_r."""
    w = np.ones(1)
    P, _ = price_index(params.A, w, w, params.sigma_trade, params.alpha_agg)
    T = transfers(params.kappa_transfer, w, w)
    tol = min(numerics.tol_policy, numerics.tol_value,
              0.01 * numerics.tol_spatial * (1.0 - params.beta * params.omega))
    inner = numerics.with_(tol_policy=tol, tol_value=tol)
    sol = solve_market(params.with_(closure="bond", w=w, P=P, T=T), inner, warm)
    residuals = dict(sol.residuals, goods_market=0.0, population=0.0, outer_iterations=1.0)
    return dataclasses.replace(sol, params=params, numerics=numerics,
                               residuals=MappingProxyType(residuals))
