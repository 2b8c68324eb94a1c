"""Solve times of the hadsge household block and aggregation, and of the event study.

    python benchmarks/hadsge.py [--markets 3 12 40] [--agents 100000]

The reference is the section-4.1 example (J = 3, A = 10): households + Proposition 2,
timed in the same run; larger J (symmetric frictions as in 4.1) print their ratio to it.
The work per age is about J^2 x n_quad x share iterations. Run by hand on an otherwise
idle machine (the first call pays numba's compilation or cache load; it is excluded).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hetspace.core.hadsge import event_study, example_params, solve


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markets", type=int, nargs="*", default=[3, 12, 40])
    ap.add_argument("--agents", type=int, default=100_000)
    args = ap.parse_args()
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


if __name__ == "__main__":
    main()
