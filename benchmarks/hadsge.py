"""Solve times of the hadsge household block and aggregation, the event study, the
simulation hook (one evaluation of configs/estimation/ii_hadsge.yaml), the GE steady state
and a perfect-foresight transition.

    python benchmarks/hadsge.py [--markets 3 12 40] [--agents 100000]
                                [--ge 10 4] [--transition 2 2 100]

The reference is the section-4.1 example (J = 3, A = 10): households + Proposition 2,
timed in the same run; larger J (symmetric frictions as in 4.1) print their ratio to it.
The work per age is about J^2 x n_quad x share iterations. Run by hand on an otherwise
idle machine (the first call pays numba's compilation or cache load; it is excluded).

GE: a seeded N x I production block with materials and trade costs (--ge N I), households
with section-4.1 frictions on its N I markets and A = 10, cold start from w = 1.1,
r = 1.05; each Newton step costs one household solve, each Jacobian 2 N I. Transition
(--transition N I T): a 10% productivity rise in market (0, 0) from that economy's steady
state over T periods; the stacked Jacobian is dense (2 N I T)^2, so N I = 40 with T = 100
(8000 unknowns, 2 N I = 80 path evaluations for its columns) is out of reach here.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hetspace.core.hadsge import event_study, example_params, simulate_statistics, solve
from hetspace.core.hadsge.equilibrium import solve_steady_state
from hetspace.core.hadsge.examples import random_production
from hetspace.core.hadsge.transition import solve_transition


def best_of(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def economy(J):
    off = ~np.eye(J, dtype=bool)
    return example_params(w=np.full(J, np.exp(0.1)), r=np.full(J, np.exp(0.07)),
                          tau=np.where(off, 0.86, 1.0), psi=np.where(off, 0.87, 1.0),
                          chi=np.ones((J, J)), lam=np.full(J, 0.95))


def ge_economy(N, I, seed=0):
    J = N * I
    return (economy(J).with_(w=np.full(J, 1.1), r=np.full(J, 1.05)),
            random_production(N, I, seed))


def time_ge(N, I, T_N, T_I, T):
    p, prod = ge_economy(N, I)
    t = time.perf_counter()
    ss = solve_steady_state(p, prod)
    t_ss = time.perf_counter() - t
    print(f"GE steady state N={N} x I={I} (J={N * I}, A=10), cold: {t_ss:.2f} s, "
          f"{ss.n_iter} Newton steps, gap {ss.residuals['max_abs_log_return_gap']:.1e}")
    p, prod = ge_economy(T_N, T_I)
    ss = solve_steady_state(p, prod)
    A1 = prod.A.copy()
    A1[0, 0] *= 1.1
    t = time.perf_counter()
    tr = solve_transition(ss, prod.with_(A=A1), T)
    t_tr = time.perf_counter() - t
    print(f"transition T={T}, N={T_N} x I={T_I}: {t_tr:.2f} s, {tr.n_iter} quasi-Newton "
          f"steps, gap {tr.residuals['max_abs_log_return_gap']:.1e}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markets", type=int, nargs="*", default=[3, 12, 40])
    ap.add_argument("--agents", type=int, default=100_000)
    ap.add_argument("--ge", type=int, nargs=2, default=[10, 4])
    ap.add_argument("--transition", type=int, nargs=3, default=[2, 2, 100])
    ap.add_argument("--only-ge", action="store_true")
    args = ap.parse_args()
    if args.only_ge:
        time_ge(*args.ge, *args.transition)
        return
    p = example_params()
    solve(p)
    ref = best_of(lambda: solve(p))
    print(f"section 4.1 example (J=3, A=10), households + aggregation: {ref * 1e3:.2f} ms")
    for J in args.markets:
        q = economy(J)
        solve(q)
        t = best_of(lambda q=q: solve(q), repeat=3)
        print(f"J={J:4d}: {t * 1e3:9.2f} ms  ratio {t / ref:8.1f}")
    event_study(p, n_agents=100)
    t = best_of(lambda: event_study(p, n_agents=args.agents, seed=1), repeat=2)
    print(f"event study, {args.agents} agents (two simulated cohorts): {t:.2f} s")
    sol = solve(p)
    simulate_statistics(sol, 100, 0)
    t = best_of(lambda: simulate_statistics(sol, 20_000, 1), repeat=3)
    print(f"simulation hook (an indirect-inference evaluation), 20000 agents: {t * 1e3:.1f} ms"
          f"  ratio {t / ref:.1f} to the solve")
    time_ge(*args.ge, *args.transition)


if __name__ == "__main__":
    main()
