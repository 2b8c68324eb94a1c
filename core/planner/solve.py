"""Steady state of the planner: the entry point.

``solve(params, numerics, warm_start)`` finds the multipliers (w, L) of the
allocation ``params.allocation`` (``outer.solve_outer``), starting from a
previous planner Solution's (warm start) or from the first best's, which is
solved first from w = 1 and uniform populations (cold start). Inner solves
reuse the previous evaluation's state (S and Xi on the grid for the second
best, log C for the history-independent allocation).

A warm second best gives the cold solve's answer whatever the neighbour: its v-grid
is the one a cold solve builds (this economy's first best, solved from the
neighbour's first-best unknowns ``Solution.x_first_best``), the neighbour's (S, Xi)
are resampled onto it (``second_best.regrid``) as the inner start, and the outer
Newton starts from the neighbour's multipliers shifted by the change of the first
best's (the two allocations move together) and (same allocation) the neighbour's
Jacobian at its solution. That first best's own Newton starts from the neighbour's
first-best Jacobian (``Solution.first_best_jacobian``). Warm, the inner tolerance
follows the outer residual (inexact Newton, ``outer.InexactInner``); the accepted
point is evaluated with the full tolerance.

Work at 48 locations x 120 nodes, the default grid
(``benchmarks/planner.py --sweep-point``, one BLAS thread): cold 7 outer iterations,
8 inner solves, 36 Bellman sweeps (11 s); warm from a neighbour at theta +2%, 6, 7
and 18 (4.0 s; theta +5%: 23 sweeps, 5.2 s; alpha_agg +3%: 20, 4.5 s), matching the
cold solve at the neighbour to 6e-10 in populations. A sweep is 0.12 s, an outer
evaluation's distribution 0.2 s (its lotteries from the last sweep's destinations).
The outer Newton converges about 10x per iteration with the neighbour's or the first
best's Jacobian alike (exact inner solves do not change it). The second best's own
outer Jacobian is not built: at 240 nodes, with the exact one at the neighbour
(central differences of the residual, 300 s) a warm point took 3 outer iterations, 5
inner solves and 16 sweeps (10.3 s against 13.5 s in the same run), so the floor is
the inner work itself: every outer iteration needs the component's fixed point at
new multipliers (about 3 sweeps and a GMRES solve) and its distribution.

With agglomeration the first best's Newton steps from uniform populations may not
reach the equilibrium (three locations, one with 1.2 times the others' own
productivity, alpha_agg = 0.04: |F| stuck at 0.21 after 40 steps, the equilibrium
holding 96% of the people in that location); the cold start then walks alpha_agg
from 0 (no agglomeration) to its value, each step started from the last solution,
a failed step halved down to 1/64 of the way.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from types import MappingProxyType

import numpy as np

from ..errors import InvalidParamsError, SolverConvergenceError, Violation
from . import second_best as sb
from .outer import InexactInner, fb_aggregates, prices, residual, solve_outer, start_from
from .params import Numerics, Params, Start
from .result import Solution
from .steady import Allocation, first_best, history_independent

logger = logging.getLogger(__name__)

OFF_GRID_WARN = 1e-4  # per-period share of households leaving the v-grid that is logged


def solve(params: Params, numerics: Numerics | None = None,
          warm_start: Solution | Start | None = None) -> Solution:
    """Solve the planner's steady state; raises SolverConvergenceError on failure.

    ``warm_start``: a nearby planner Solution, or a :class:`Start` (populations,
    e.g. the status quo's, where the first best of the cold start begins; see
    Start on the several stationary points), or None (uniform populations)."""
    numerics = Numerics() if numerics is None else numerics
    _check(params, numerics, warm_start)
    warm = warm_start if isinstance(warm_start, Solution) and \
        warm_start.params.n_loc == params.n_loc else None
    start = warm_start if isinstance(warm_start, Start) else None
    x0 = start_from(warm.w, warm.population) if warm is not None else _fb_start(
        params, numerics, start)
    if params.allocation == "second_best":
        return _second_best(params, numerics, x0, warm)
    if params.allocation == "history_independent":
        return _history_independent(params, numerics, x0, warm)
    fbp = params
    res = solve_outer(fbp, numerics, x0, fb_aggregates(fbp, numerics), "first best")
    w, _L, P, _ = prices(params, res.x)
    return _grid_free(params, numerics, res, first_best(params, numerics, w, P))


def _fb_start(params: Params, numerics: Numerics, start: Start | None) -> np.ndarray:
    fbp = params.with_(allocation="first_best", r_inv=params.beta,
                       weights=np.ones(params.n_loc))
    J = params.n_loc
    w0, L0 = (np.ones(J), np.full(J, 1.0 / J)) if start is None else (start.w,
                                                                       start.population)
    x0 = start_from(w0, L0 / L0.sum())
    try:
        return solve_outer(fbp, numerics, x0, fb_aggregates(fbp, numerics),
                           "first best (cold start)").x
    except SolverConvergenceError as err:
        if fbp.alpha_agg == 0.0:
            raise
        logger.info("first best from the start failed (%s); walking alpha_agg from 0", err)
        return _walk_agglomeration(fbp, numerics, x0, err)


def _walk_agglomeration(fbp: Params, numerics: Numerics, x0: np.ndarray,
                        err: SolverConvergenceError) -> np.ndarray:
    """The first best at fbp.alpha_agg by continuation from alpha_agg = 0 (module doc)."""
    target = fbp.alpha_agg
    done: float | None = None  # the last alpha_agg solved
    step = target / 4
    x = x0
    while True:
        alpha = 0.0 if done is None else min(done + step, target)
        p = fbp.with_(alpha_agg=alpha)
        try:
            x = solve_outer(p, numerics, x, fb_aggregates(p, numerics),
                            f"first best (alpha_agg {alpha:.4g})").x
        except SolverConvergenceError:
            if done is None or step < target / 64:
                reached = "not even at 0" if done is None else f"at {done:.4g}"
                raise SolverConvergenceError(
                    f"first best (cold start): outer problem (w, L) did not converge from the "
                    f"start, and a walk in alpha_agg from 0 to {target:.4g} stopped {reached}",
                    residuals=err.residuals, n_iter=err.n_iter) from err
            step /= 2
            continue
        if alpha == target:
            return x
        done = alpha


def _history_independent(params, numerics, x0, warm) -> Solution:
    state = {"logC": None}
    if warm is not None and warm.C.shape[1] == 1:
        state["logC"] = np.log(warm.C[:, 0])

    def agg(w, P):
        a = history_independent(params, numerics, w, P, logC0=state["logC"])
        state["logC"] = np.log(a.C)
        return a.L, P * a.C * a.L

    res = solve_outer(params, numerics, x0, agg, "history independent", own=True)
    w, _L, P, _ = prices(params, res.x)
    return _grid_free(params, numerics, res,
                      history_independent(params, numerics, w, P, logC0=state["logC"]))


def _grid_free(params: Params, numerics: Numerics, res, a: Allocation) -> Solution:
    w, _L, P, _ = prices(params, res.x)
    def col(z):
        return (np.asarray(z, float)[:, None])
    return _finish(params, numerics, res, w, P, a.L, col(a.v), col(a.C), col(a.S),
                   col(a.L), a.vn, a.Sn, a.mu, 0.0, a.n_iter, None)


def _second_best(params, numerics, x0, warm) -> Solution:
    fbp = params.with_(allocation="first_best", r_inv=params.beta,
                       weights=np.ones(params.n_loc))
    x_fb, jac0, jac_fb = x0, None, None
    comp0 = getattr(warm, "component", None)
    if warm is not None:
        # the grid is the cold solve's (from this economy's first best), whatever the
        # neighbour: a warm solve then finds the cold one's fixed point. Its Newton
        # starts from the neighbour's first-best Jacobian (no difference Jacobian)
        x_fb_nb = warm.x_first_best if warm.x_first_best is not None else x0
        res_fb = solve_outer(fbp, numerics, x_fb_nb, fb_aggregates(fbp, numerics),
                             "first best (the grid of a warm start)",
                             jac0=warm.first_best_jacobian)
        x_fb, jac_fb = res_fb.x, res_fb.jacobian
        if warm.x_first_best is not None:
            # the second best moves with the first best: start from the neighbour's
            # multipliers shifted by the first best's change (at J = 48, theta +2%,
            # the first |F| falls from 3.3e-2 to 2.9e-3)
            x0 = x0 + (x_fb - x_fb_nb)
        if warm.params.allocation == "second_best":
            jac0 = warm.outer_jacobian
    w, _L, P, _ = prices(params, x_fb)
    fb = first_best(fbp, numerics, w, P)
    v_grid = sb.make_v_grid(numerics, fb)
    if comp0 is not None and comp0.S.shape == (params.n_loc, numerics.n_v):
        S, X = sb.regrid(comp0.S, comp0.X, comp0.v_grid, v_grid)
    else:
        S, X = sb.initial_surplus(params, fb, v_grid)
    # inexact inner solves only when warm: a cold steady state (the base of a transition
    # block) keeps its exact inner path; with it inexact, the central differences of
    # test_transition's fake-news columns moved by up to 3e-9, just past that test's
    # tolerance
    tol = numerics.tol_inner
    inexact = InexactInner(tol) if warm is not None else InexactInner(tol, loosest=tol)
    state = {"S": S, "X": X, "last": None, "at": None, "jac": {}, "sweeps": 0, "inner": 0}

    def agg(w, P):
        # the outer Newton reads the residual at its current point again every step
        # (numerics.newton): the last evaluation is kept, not redone, unless it was
        # inexact and the full tolerance is asked for
        at = (w.tobytes(), P.tobytes())
        tol = inexact.take(state["at"] == at)
        if tol is not None:
            comp = sb.solve_component(params, numerics, w, P, v_grid, state["S"], state["X"],
                                      tol=tol, jac_cache=state["jac"])
            dist, off, x_pol = sb.stationary_distribution(params, comp)
            state.update(S=comp.S, X=comp.X, last=(comp, dist, off, x_pol), at=at,
                         sweeps=state["sweeps"] + comp.n_sweeps, inner=state["inner"] + 1)
        _comp, dist, _off, x_pol = state["last"]
        return dist.sum(axis=1), np.sum(dist * x_pol, axis=1)

    res = solve_outer(params, numerics, x0, agg, "second best", jac0=jac0,
                      inexact=inexact)
    if jac_fb is None:  # cold: the first best's difference Jacobian the Newton began with
        jac_fb = res.fresh_jacobian
    w, _L, P, _ = prices(params, res.x)
    residual(params, res.x, agg)  # the state at the solution itself
    comp, dist, off, x_pol = state["last"]
    comp = replace(comp, destinations=None)  # the distribution's; a Solution keeps none
    _vp, mu = sb.newborn_policies(params, comp)
    promise = np.broadcast_to(v_grid, comp.S.shape)
    off_grid = float(np.sum(dist * off) * params.omega)
    if off_grid > OFF_GRID_WARN:
        logger.warning("second best: %.2g of households a period leave the promise grid "
                       "(placed at its end node); widen Numerics.v_below or v_above", off_grid)
    return _finish(params, numerics, res, w, P, dist.sum(axis=1), promise, x_pol / P[:, None],
                   comp.S, dist, comp.vn, comp.Sn, mu, off_grid,
                   comp.n_sweeps, comp, x_fb,
                   {"inner_solves": state["inner"], "sweeps": state["sweeps"]}, jac_fb)


def _finish(params, numerics, res, w, P, L, promise, C, S, dist, vn, Sn, mu, off, sweeps,
            comp, x_fb=None, inner_work=None, jac_fb=None) -> Solution:
    F = res.F
    J = params.n_loc
    return Solution(
        params=params, numerics=numerics, w=w, P=P, population=L,
        promise=np.ascontiguousarray(promise), C=C, S=S, dist=dist, vn=np.asarray(vn),
        Sn=np.asarray(Sn), mu=mu, welfare=float(L @ vn),
        spending=float(np.sum(dist * C * P[:, None])), labour_income=float(w @ L),
        mass_off_grid=off, concavity=np.nan if comp is None else comp.concavity,
        converged=True, n_iter=res.n_iter, n_sweeps=int(sweeps),
        residuals=MappingProxyType({"goods": float(np.max(np.abs(F[:J]))),
                                    "population": float(np.max(np.abs(F[J:]), initial=0.0))}),
        component=comp, x_first_best=x_fb, outer_jacobian=res.jacobian,
        first_best_jacobian=jac_fb,
        work=MappingProxyType({"outer_iterations": res.n_iter,
                               "outer_jacobians": res.n_jacobians} | (inner_work or {})))


def _check(params, numerics, warm_start) -> None:
    problems = []
    if not isinstance(params, Params):
        problems.append(Violation("params", "must be a planner Params", type(params).__name__))
    if not isinstance(numerics, Numerics):
        problems.append(Violation("numerics", "must be a planner Numerics",
                                  type(numerics).__name__))
    if warm_start is not None and not isinstance(warm_start, (Solution, Start)):
        problems.append(Violation("warm_start", "must be a planner Solution, a Start or None",
                                  type(warm_start).__name__))
    if problems:
        raise InvalidParamsError("solve", problems)
