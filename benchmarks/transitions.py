"""Household-block Jacobians by fake news: hetspace against sequence-jacobian (ratios
in one run), and one nonlinear household path.

    python benchmarks/transitions.py [--n-a 500] [--T 300] [--repeat 3]

Aiyagari (1994) with 7 income states, risk aversion 2 (``examples.aiyagari_1994``),
its capital-closure steady state; the Jacobians of A and C in r and w over T.
hetspace: ``fake_news_jacobian(HouseholdBlock(sol), T, ["w_0", "r"], ["A_0", "C_0"])``, a
fresh block (its setup: Phi_z in closed form and the input columns, included).
sequence-jacobian: a het block with the same EGM step on the same grid, chain and
prices (as in tests/core/incomplete_markets/test_transition_sj.py), its own
steady state (not timed) and ``jacobian(ss, ["r", "w"], T=T)`` with its default
h = 1e-4. Both compiled once before timing; medians of ``repeat`` runs. Run by
hand on an otherwise idle machine (sharing cores skews the ratio).
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np
import sequence_jacobian as sj

from hetspace.core.incomplete_markets import examples, solve
from hetspace.core.incomplete_markets.transition import HouseholdBlock, transition_path
from hetspace.core.transitions import fake_news_jacobian


def _init(a_grid, e_grid, r, w, T, P, gamma):
    coh = (1 + r) * (a_grid[None, :] - a_grid[0]) + w * e_grid[:, None] + T
    Va = (1 + r) * (0.5 * coh / P) ** (-gamma) / P
    return Va


@sj.het(exogenous="Pi", policy="a", backward="Va", backward_init=_init)
def household(Va_p, a_grid, e_grid, r, w, T, P, beta, gamma):
    c_next = (P * beta * Va_p) ** (-1.0 / gamma)
    coh = (1 + r) * a_grid[None, :] + w * e_grid[:, None] + T
    a = sj.interpolate.interpolate_y(P * c_next + a_grid, coh, a_grid)
    sj.misc.setmin(a, a_grid[0])
    a = np.minimum(a, a_grid[-1])
    c = (coh - a) / P
    Va = (1 + r) * c ** (-gamma) / P
    return Va, a, c


def _median(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-a", type=int, default=500)
    ap.add_argument("--T", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    params, num = examples.aiyagari_1994(n_a=args.n_a, risk_aversion=2.0)
    sol = solve(params, num)
    calib = dict(a_grid=sol.a_grid, e_grid=np.asarray(params.e_grid, float),
                 Pi=np.asarray(params.Pi, float), r=sol.r, w=sol.wage, T=0.0, P=1.0,
                 beta=params.beta, gamma=params.gamma)
    ss = household.steady_state(calib, backward_tol=1e-11, forward_tol=1e-12,
                                backward_maxit=100_000, forward_maxit=1_000_000)

    def ours():
        return fake_news_jacobian(HouseholdBlock(sol), args.T, ["w_0", "r"], ["A_0", "C_0"])

    def theirs():
        return household.jacobian(ss, ["r", "w"], ["A", "C"], T=args.T)

    ours(), theirs()  # compile
    t_ours, t_sj = _median(ours, args.repeat), _median(theirs, args.repeat)
    print(f"Aiyagari S=7 n_a={args.n_a} T={args.T}: Jacobians of A, C in r, w")
    print(f"  hetspace fake news   {t_ours:8.3f} s")
    print(f"  sequence-jacobian    {t_sj:8.3f} s")
    print(f"  ratio hetspace / SJ  {t_ours / t_sj:8.3f}")
    jac, ref = ours(), theirs()
    err = max(np.abs(jac.get(f"{o}_0", m) - ref[o][i]).max() / np.abs(ref[o][i]).max()
              for o in ("A", "C") for i, m in (("r", "r"), ("w", "w_0")))
    print(f"  max relative gap (SJ's h = 1e-4): {err:.2e}")
    block = HouseholdBlock(sol)
    x = np.tile(block.steady_inputs(), (args.T, 1))
    x[:, -1] += 1e-3 * 0.9 ** np.arange(args.T)
    tracemalloc.start()
    t_path = _median(lambda: transition_path(block, x), args.repeat)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"  one nonlinear household path: {t_path:.3f} s, peak {peak / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
