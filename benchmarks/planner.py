"""Benchmark: the four allocations of DFM Table 2 on the synthetic 48-location economy.

Run by hand: ``.venv/bin/python benchmarks/planner.py [n_v] [--sweep-point | --grid]``. Solves
the status quo (workhorse, configs/models/spatial48 fundamentals), then the
history-independent, second-best and first-best planners started from the status
quo's populations (``planner.Start``), and prints times, grid sizes and newborn
welfare C_eq normalised by the status quo next to the paper's (1.000, 1.029, 1.042,
1.060; the data here are synthetic, so only the ordering and the magnitude are
comparable). A failed solve is printed with its error, not hidden.

A sweep point (issue 14's performance criterion): the second best re-solved warm from
the cold solution at neighbours (theta +2% and +5%, alpha_agg +3%), with seconds,
work counts (outer iterations, inner solves, Bellman sweeps) and the ratio to the
cold solve; then the cold solve at the first neighbour, and the largest differences
of warm against cold (they agree to the solver's tolerance). ``--sweep-point`` runs
only that part (status quo, second best cold, the neighbours).

``--grid`` instead solves the second best cold at n_v = 60, 120, 240 and 480 on the
default range, and at 240 on the former default's wider range (150 utils below and
60 above the first-best promises), and prints each one's largest relative difference
in w, P, populations and C_eq from the 480-node solve, with its mass off the grid:
the discretisation error that a grid buys.
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


NEIGHBOURS = (("theta", 1.02), ("theta", 1.05), ("alpha_agg", 1.03))


def work(sol) -> str:
    w = sol.work
    return (f"outer {w['outer_iterations']}, inner solves {w.get('inner_solves', 0)}, "
            f"sweeps {w.get('sweeps', 0)}, outer Jacobians {w['outer_jacobians']}")


def sweep_point(sq_params, sq_population, sol, cold_seconds: float, n_v: int) -> None:
    """Warm re-solves of the second best at the NEIGHBOURS of ``sol`` (module doc)."""
    planner = get_model("planner")
    warm = {}
    for name, factor in NEIGHBOURS:
        p = Params.from_status_quo(sq_params.with_(**{name: getattr(sq_params, name) * factor}),
                                   "second_best")
        t = time.perf_counter()
        warm[name, factor] = near = planner.solve(p, Numerics(n_v=n_v), warm_start=sol)
        dt = time.perf_counter() - t
        print(f"second_best warm at {name} x {factor}: {dt:.1f} s ({dt / cold_seconds:.2f} "
              f"of cold), {work(near)}")
    (name, factor), near = next(iter(warm.items()))
    t = time.perf_counter()
    cold = planner.solve(near.params, Numerics(n_v=n_v),
                         warm_start=Start(population=sq_population))
    print(f"second_best cold at {name} x {factor}: {time.perf_counter() - t:.1f} s, "
          f"{work(cold)}")
    rel = {f: float(np.max(np.abs(getattr(near, f) / getattr(cold, f) - 1.0)))
           for f in ("w", "P", "population")}
    print("warm against cold, max relative difference: " + ", ".join(
        f"{f} {d:.1e}" for f, d in rel.items()) + f"; S {np.max(np.abs(near.S - cold.S)):.1e}"
        f" (abs); welfare {abs(near.welfare - cold.welfare):.1e} (abs)")


def grid_convergence(sizes=(60, 120, 240, 480)) -> None:
    """The second best at several grids against the finest (module docstring)."""
    sq_params, sq_num = synthetic_params()
    sq = get_model("incomplete_markets").solve(sq_params, sq_num)
    p = Params.from_status_quo(sq_params, "second_best")
    grids = {f"{n_v}": Numerics(n_v=n_v) for n_v in sizes}
    grids["240 wide"] = Numerics(n_v=240, v_below=150.0, v_above=60.0)
    sols = {}
    for name, num in grids.items():
        t = time.perf_counter()
        sols[name] = get_model("planner").solve(p, num,
                                                warm_start=Start(population=sq.population))
        print(f"n_v {name}: {time.perf_counter() - t:.1f} s, {work(sols[name])}")
    ref = sols[str(max(sizes))]
    for name, sol in sols.items():
        rel = {f: float(np.max(np.abs(getattr(sol, f) / getattr(ref, f) - 1.0)))
               for f in ("w", "P", "population", "welfare_ce")}
        h = sol.component.v_grid[1] - sol.component.v_grid[0]
        print(f"n_v {name} (spacing {h:.3f}) against {max(sizes)}, max relative difference: "
              + ", ".join(f"{f} {d:.1e}" for f, d in rel.items())
              + f"; mass off the grid {sol.mass_off_grid:.1e} a period")


def main(n_v: int = 120, only_sweep_point: bool = False) -> None:
    sq_params, sq_num = synthetic_params()
    t = time.perf_counter()
    sq = get_model("incomplete_markets").solve(sq_params, sq_num)
    ce = {"status_quo": float(np.exp((1 - sq_params.beta * sq_params.omega)
                                     * newborn_welfare(sq)))}
    print(f"status_quo: {time.perf_counter() - t:.1f} s, n_a = {sq_num.n_a}")
    planner = get_model("planner")
    allocations = ("second_best",) if only_sweep_point else (
        "history_independent", "second_best", "first_best")
    for alloc in allocations:
        t = time.perf_counter()
        try:
            sol = planner.solve(Params.from_status_quo(sq_params, alloc), Numerics(n_v=n_v),
                                warm_start=Start(population=sq.population))
        except Exception as err:  # a benchmark reports every failure
            print(f"{alloc}: FAILED after {time.perf_counter() - t:.1f} s: {err}")
            continue
        seconds = time.perf_counter() - t
        ce[alloc] = sol.welfare_ce
        print(f"{alloc}: {seconds:.1f} s, {work(sol)}, grid {sol.C.shape}, spending "
              f"{sol.spending:.10f}, concavity {sol.concavity:.3g}, mass off grid "
              f"{sol.mass_off_grid:.1e}")
        if alloc == "second_best":
            sweep_point(sq_params, sq.population, sol, seconds, n_v)
    if only_sweep_point:
        return
    print(f"{'allocation':22s} {'C_eq / SQ':>10s} {'paper':>7s}")
    for name, paper in PAPER.items():
        got = ce.get(name, float("nan")) / ce["status_quo"]
        print(f"{name:22s} {got:10.4f} {paper:7.3f}")
    order = [ce.get(k, np.nan) for k in PAPER]
    print("ordering SQ < HI < SB < FB holds:", bool(np.all(np.diff(order) > 0)))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--grid" in sys.argv[1:]:
        grid_convergence()
    else:
        main(int(args[0]) if args else 120, "--sweep-point" in sys.argv[1:])
