"""Benchmark: the four allocations of DFM Table 2 on the synthetic 48-location economy.

Run by hand: ``.venv/bin/python benchmarks/planner.py [n_v]``. Solves the status quo
(workhorse, configs/models/spatial48 fundamentals), then the history-independent,
second-best and first-best planners started from the status quo's populations
(``planner.Start``), and prints times, grid sizes and newborn welfare C_eq normalised
by the status quo next to the paper's (1.000, 1.029, 1.042, 1.060; the data here are
synthetic, so only the ordering and the magnitude are comparable). A failed solve is
printed with its error, not hidden.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from hetspace.core import get_model
from hetspace.core.incomplete_markets.moments import newborn_welfare
from hetspace.core.incomplete_markets.synthetic import synthetic_params
from hetspace.core.planner import Numerics, Params, Start

PAPER = {"status_quo": 1.000, "history_independent": 1.029, "second_best": 1.042,
         "first_best": 1.060}


def main(n_v: int = 240) -> None:
    sq_params, sq_num = synthetic_params()
    t = time.perf_counter()
    sq = get_model("incomplete_markets").solve(sq_params, sq_num)
    ce = {"status_quo": float(np.exp((1 - sq_params.beta * sq_params.omega)
                                     * newborn_welfare(sq)))}
    print(f"status_quo: {time.perf_counter() - t:.1f} s, n_a = {sq_num.n_a}")
    planner = get_model("planner")
    for alloc in ("history_independent", "second_best", "first_best"):
        t = time.perf_counter()
        try:
            sol = planner.solve(Params.from_status_quo(sq_params, alloc), Numerics(n_v=n_v),
                                warm_start=Start(population=sq.population))
        except Exception as err:  # a benchmark reports every failure
            print(f"{alloc}: FAILED after {time.perf_counter() - t:.1f} s: {err}")
            continue
        ce[alloc] = sol.welfare_ce
        print(f"{alloc}: {time.perf_counter() - t:.1f} s, outer {sol.n_iter}, sweeps "
              f"{sol.n_sweeps}, grid {sol.C.shape}, spending {sol.spending:.10f}, "
              f"concavity {sol.concavity:.3g}, mass off grid {sol.mass_off_grid:.1e}")
        if alloc == "second_best":  # a sweep point: a neighbour warm-started from this one
            t = time.perf_counter()
            near = planner.solve(Params.from_status_quo(sq_params.with_(theta=0.51), alloc),
                                 Numerics(n_v=n_v), warm_start=sol)
            print(f"second_best at theta 0.51 warm-started: {time.perf_counter() - t:.1f} s, "
                  f"outer {near.n_iter}")
    print(f"{'allocation':22s} {'C_eq / SQ':>10s} {'paper':>7s}")
    for name, paper in PAPER.items():
        got = ce.get(name, float("nan")) / ce["status_quo"]
        print(f"{name:22s} {got:10.4f} {paper:7.3f}")
    order = [ce.get(k, np.nan) for k in PAPER]
    print("ordering SQ < HI < SB < FB holds:", bool(np.all(np.diff(order) > 0)))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 240)
