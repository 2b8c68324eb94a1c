"""Incomplete-markets timings against sequence-jacobian, and warm vs cold re-solves.

Run by hand: ``python benchmarks/incomplete_markets.py``. The peer comparison
needs sequence-jacobian in the same environment (``pip install
sequence-jacobian``; it is not a hetspace dependency) and is skipped with a
message when it is absent.

Problem (issue 3): Aiyagari (1994) with rho = 0.6, sigma = 0.2, CRRA 3; the
7-state Tauchen chain and the 500-point asset grid are hetspace's, handed to
sequence-jacobian as they are, so both solve the same discretised problem.
Tolerances: policies to 1e-10 (max change of the policy between iterations:
hetspace consumption, sequence-jacobian savings, which differ by the same
amount at fixed cash on hand), distribution to 1e-10 (hetspace: L1 residual of
a direct solve; sequence-jacobian: max change between forward steps), r to a
bracket of 1e-11 (sequence-jacobian: brentq xtol via ttol). sequence-jacobian
gets the bracket [2%, 4%] for r (its forward iteration does not converge at r
next to 1/beta - 1); hetspace searches its whole admissible interval.
Times are medians of repeats after a warm-up run (numba compilation).
``SPATIAL_HOOK`` gives the synthetic 48-location spatial economy (S = 1, 200
asset points): cold GE time, warm re-solves after 1% changes (target: warm at
most 20% of cold) and Euler errors; it takes a few minutes. Report the load
average with the numbers (``uptime``): the machine is shared.
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np

from hetspace.core.incomplete_markets import examples, household, solve

REPEAT = 5
SPATIAL_REPEAT = 3
TOL = 1e-10


def _median_time(fn, repeat: int = REPEAT):
    fn()
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


def _sequence_jacobian(params, numerics, r):
    """(household time, GE time, GE r) from sequence-jacobian, or None if not installed."""
    try:
        import sequence_jacobian as sj
        from sequence_jacobian.hetblocks.hh_sim import hh
    except ImportError:
        return None
    blk = hh.add_hetinputs([_sj_income])
    cal = dict(a_grid=household.make_asset_grid(params, numerics, r), e_grid=params.e_grid,
               Pi=params.Pi, w=1.0, r=r, beta=params.beta, eis=1.0 / params.gamma)
    opts = dict(backward_tol=TOL, forward_tol=TOL)
    t_hh, _ = _median_time(lambda: blk.steady_state(cal, **opts))
    model = sj.create_model([sj.simple(_sj_firm), blk, sj.simple(_sj_market)])
    cal_ge = dict(cal, alpha=params.alpha, delta=params.delta, L=1.0)

    def ge():
        return model.solve_steady_state(cal_ge, {"r": (0.02, 0.04)}, {"asset_mkt": 0.0},
                                        solver="brentq", ttol=1e-11, **opts)

    t_ge, ss = _median_time(ge, repeat=3)
    return t_hh, t_ge, float(ss["r"])


# sequence-jacobian reads the names of a block's outputs from its return line
def _sj_income(w, e_grid):
    y = w * e_grid
    return y


def _sj_firm(r, alpha, delta, L):
    K = L * (alpha / (r + delta)) ** (1.0 / (1.0 - alpha))
    w = (1.0 - alpha) * (K / L) ** alpha
    return K, w


def _sj_market(A, K):
    asset_mkt = A - K
    return asset_mkt


def _migration_economy(J: int):
    """J locations, two income states, logit migration, bond market (Huggett-like)."""
    rng = np.random.default_rng(J)
    chi = np.exp(-rng.uniform(1.0, 3.0, (J, J)))
    np.fill_diagonal(chi, 1.0)
    params, numerics = examples.huggett_1993(1.5, -2.0, n_a=200)
    params = params.with_(w=tuple(rng.uniform(0.8, 1.2, J)), P=tuple(rng.uniform(0.9, 1.1, J)),
                          T=(0.0,) * J, chi=chi, theta=2.0)
    return params, numerics


def _warm_vs_cold(label, params, numerics, changes, repeat: int = 3):
    t_cold, base = _median_time(lambda: solve(params, numerics), repeat=repeat)
    for name, new in changes:
        t_new_cold, cold = _median_time(partial(solve, new, numerics), repeat=repeat)
        t_warm, warm = _median_time(partial(solve, new, numerics, warm_start=base),
                                    repeat=repeat)
        print(f"{label:>16} {name:>14} {t_new_cold:>8.3f} {t_warm:>8.3f} "
              f"{t_warm / t_new_cold:>6.2f} {abs(warm.r - cold.r):>9.1e}")
    return t_cold, base


def SPATIAL_HOOK():
    """(label, params, numerics, [(change name, new params)]) for the synthetic
    48-location economy (S = 1, 200 asset points; issue 3): 1% changes of the
    agglomeration elasticity, the migration elasticity and Massachusetts'
    productivity row (the paper's region-shock experiment, with the sign flipped)."""
    from hetspace.core.incomplete_markets.synthetic import state_codes, synthetic_params

    params, numerics = synthetic_params(n_a=200)
    ma = state_codes().index("MA")
    A = np.array(params.A)
    A[ma, :] *= 1.01
    return ("spatial J=48", params, numerics, [
        ("alpha_agg", params.with_(alpha_agg=params.alpha_agg * 1.01)),
        ("theta", params.with_(theta=params.theta * 1.01)),
        ("A[MA, :]", params.with_(A=A))])


def main() -> None:
    params, numerics = examples.aiyagari_1994(0.6, 0.2, 3.0, n_a=500)
    r = 0.04
    partial = params.with_(closure="partial", r=r)
    t_hh, sol_hh = _median_time(lambda: solve(partial, numerics))
    t_ge, sol_ge = _median_time(lambda: solve(params, numerics), repeat=3)
    peer = _sequence_jacobian(params, numerics, r)
    print("Aiyagari, 7 states x 500 points, tolerances 1e-10 (policy, distribution), 1e-11 (r)")
    print(f"{'':>24} {'hetspace s':>10} {'SJ s':>8} {'ratio':>6}")
    if peer is None:
        print("sequence-jacobian not installed (pip install sequence-jacobian): "
              "peer comparison skipped")
        peer = (np.nan, np.nan, np.nan)
    print(f"{'household at r=4%':>24} {t_hh:>10.3f} {peer[0]:>8.3f} {t_hh / peer[0]:>6.2f}")
    print(f"{'GE steady state':>24} {t_ge:>10.3f} {peer[1]:>8.3f} {t_ge / peer[1]:>6.2f}")
    print(f"r*: hetspace {sol_ge.r:.10f}, sequence-jacobian {peer[2]:.10f}; "
          f"{sol_ge.n_iter} household solves, {sol_hh.n_iter_household} EGM steps at r=4%")
    for label, sol in (("r=4%", sol_hh), ("GE", sol_ge)):
        m = sol.diagnostics()
        print(f"Euler errors ({label}): max log10 {m['euler_error_max_log10']:.2f}, "
              f"mean log10 {m['euler_error_mean_log10']:.2f}")
    print(f"\n{'economy':>16} {'change (1%)':>14} {'cold s':>8} {'warm s':>8} {'w/c':>6} "
          f"{'|dr|':>9}")
    _warm_vs_cold("Aiyagari", params, numerics, [
        ("gamma", params.with_(gamma=params.gamma * 1.01)),
        ("beta (+0.1%)", params.with_(beta=params.beta * 1.001)),
        ("tfp", params.with_(tfp=params.tfp * 1.01))])
    for J in (3, 5):
        p, n = _migration_economy(J)
        _warm_vs_cold(f"migration J={J}", p, n, [
            ("theta", p.with_(theta=p.theta * 1.01)),
            ("w[0]", p.with_(w=(p.w[0] * 1.01, *p.w[1:])))])
    hook = SPATIAL_HOOK()
    if hook is not None:
        label, p, n, changes = hook
        t_cold, sol = _warm_vs_cold(label, p, n, changes, repeat=SPATIAL_REPEAT)
        m = sol.diagnostics()
        print(f"{label}: cold GE {t_cold:.2f} s ({sol.residuals['outer_iterations']:.0f} outer "
              f"steps, {sol.n_iter} household solves, {sol.residuals['egm_steps']:.0f} EGM "
              f"steps); Euler errors max log10 {m['euler_error_max_log10']:.2f}, mean log10 "
              f"{m['euler_error_mean_log10']:.2f}")


if __name__ == "__main__":
    main()
