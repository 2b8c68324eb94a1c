"""Solve times of the Armington family (levels and exact hat), N = 50 and N = 200.

Run by hand: ``python benchmarks/armington.py``. No target yet: a baseline for
later. Prints the median of several solves, and the hat/levels ratio measured in
the same run.
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np

from hetspace.core.armington import exact_hat, solve_equilibrium


def _economy(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    tau = 1.0 + rng.exponential(1.0, (n, n))
    np.fill_diagonal(tau, 1.0)
    return tau, rng.lognormal(0, 0.5, n), rng.lognormal(0, 0.5, n)


def _median_time(fn, repeat: int = 7) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


def main() -> None:
    print(f"{'N':>5} {'labour':>9} {'levels ms':>10} {'hat ms':>8} {'hat/levels':>10} {'iters':>6}")
    for n in (50, 200):
        tau, A, L = _economy(n)
        shock = np.ones(n)
        shock[0] = 0.9
        for kappa in (None, 2.0):
            t_lev, base = _median_time(partial(solve_equilibrium, 4.0, tau, A, L, kappa=kappa))
            labour = None if kappa is None else base.L
            t_hat, _ = _median_time(
                partial(exact_hat, base.X, 4.0, A_hat=shock, kappa=kappa, L=labour))
            label = "fixed" if kappa is None else f"mig k={kappa:g}"
            print(f"{n:>5} {label:>9} {1e3 * t_lev:>10.2f} {1e3 * t_hat:>8.2f} "
                  f"{t_hat / t_lev:>10.2f} {base.n_iter:>6}")


if __name__ == "__main__":
    main()
