"""Spatial-closure transitions: how the cost grows with the number of locations J.

    python benchmarks/transitions_spatial.py [--n-a 50] [--T 100] [--J 3 6 12 24]
    python benchmarks/transitions_spatial.py --economy48 [--n-a 200] --T 50 100 150 300

For each J, the synthetic economy on its first J states (``synthetic_params``), its
steady state (not timed), then ``SpatialTransition(sol, T, outputs=())`` (household
linearisation, fake-news Jacobian of the 2J - 1 targets in the 2J - 1 unknowns, the LU
of H_U) and one linear impulse after a -1% productivity shock to location 0 that
decays by 0.9 a period (not a nonlinear path: the first few states' economies can be
indeterminate, see ``transition_spatial``; ``condition`` is printed). Prints seconds,
the peak traced memory of the build
(tracemalloc: NumPy buffers included) and the ratio to the smallest J, next to J^3
(the module docstring's prediction for the household part; the LU grows like
(J T)^3). Run by hand; sharing cores skews the ratios.

Measured (n_a = 50, T = 100, 2 shared cores): J = 3, 6, 12, 24: build 0.51, 0.94, 5.96,
9.85 s (ratios 1, 1.8, 11.7, 19.3 against (J/3)^3 = 1, 8, 64, 512: at these sizes
fixed costs dominate), peak traced memory 0.004, 0.020, 0.086, 0.36 GB (~J^2);
condition 8e8, 1e13, 6e10, 7e5: the alphabetical subsets with 3-12 states are not
determinate (``transition_spatial``), the 24-state one is.

``--economy48``: the whole synthetic economy (48 locations, S = 1), for each T in a
fresh process: ``SpatialTransition(sol, T, outputs=())`` (the household block's
fake-news Jacobians of the 95 targets in the 95 unknowns, placed into H_U as they
come, then H_U's LU; seconds of each), then the nonlinear path after Massachusetts'
productivity falls by 1% for ever (quasi-Newton steps to the new steady state).
Prints the peak resident memory (getrusage) after the steady states, after the
build and at the end, and the NumPy memory traced during the path.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np

from hetspace.core.incomplete_markets import solve
from hetspace.core.incomplete_markets.synthetic import state_codes, synthetic_params
from hetspace.core.incomplete_markets.transition_spatial import SpatialTransition


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-a", type=int, default=50)
    ap.add_argument("--T", type=int, nargs="+", default=[100])
    ap.add_argument("--J", type=int, nargs="+", default=[3, 6, 12, 24])
    ap.add_argument("--economy48", action="store_true",
                    help="time and peak memory of the 48-location economy's Jacobians and "
                         "its nonlinear permanent-shock path, one fresh process per T")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        return _one48(args.n_a, args.T[0])
    if args.economy48:
        return _economy48(args.n_a, args.T)
    rows = []
    T = args.T[0]
    for J in args.J:
        params, numerics = synthetic_params(state_codes()[:J], n_a=args.n_a)
        sol = solve(params, numerics)
        SpatialTransition(sol, 4, outputs=())  # compile first
        tracemalloc.start()
        t0 = time.perf_counter()
        tr = SpatialTransition(sol, T, outputs=())
        build = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] / 1e9
        tracemalloc.stop()
        t0 = time.perf_counter()
        tr.linear({"A_0": -0.01 * 0.9 ** np.arange(T)})
        rows.append((J, build, peak, time.perf_counter() - t0, tr.condition))
    J0, b0 = rows[0][0], rows[0][1]
    print(f"n_a = {args.n_a}, T = {T}")
    print("   J  build s  peak GB  linear s  build / build(J0)  (J/J0)^3  condition")
    for J, build, peak, path, cond in rows:
        print(f"{J:4d} {build:8.2f} {peak:8.3f} {path:9.3f} {build / b0:18.1f} "
              f"{(J / J0) ** 3:9.1f} {cond:10.1e}")


def _rss_gb() -> float:
    """The process's peak resident memory so far (GB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def _one48(n_a: int, T: int) -> None:
    """One line of ``_economy48``: Massachusetts' productivity -1% for ever."""
    params, numerics = synthetic_params(n_a=n_a)
    codes = state_codes()
    A = np.array(params.A, dtype=float)
    A[codes.index("MA")] *= 0.99
    old = solve(params, numerics)
    new = solve(params.with_(A=A), numerics, warm_start=old)
    small = SpatialTransition(old, 3, outputs=())  # compile first
    small.nonlinear(terminal=new)
    del small
    base = _rss_gb()
    t0 = time.perf_counter()
    tr = SpatialTransition(old, T, outputs=())
    build = time.perf_counter() - t0
    after_build = _rss_gb()
    tracemalloc.start()
    t0 = time.perf_counter()
    path = tr.nonlinear(terminal=new)
    t_path = time.perf_counter() - t0
    traced = tracemalloc.get_traced_memory()[1] / 1e9
    tracemalloc.stop()
    sec = tr.seconds
    print(f"{T:5d} {sec['household_jacobians']:9.1f} {sec['lu']:7.1f} {build:8.1f} "
          f"{base:7.2f} {after_build:8.2f} {t_path:7.1f} {path.n_iter:3d} {traced:9.2f} "
          f"{_rss_gb():8.2f} {tr._lu[0].nbytes / 1e9:6.2f}", flush=True)


def _economy48(n_a: int, Ts: list[int]) -> None:
    print(f"48 locations, S = 1, n_a = {n_a}; MA -1% for ever (nonlinear: to the new steady "
          "state)")
    print("    T  hh jac s    LU s  build s  base GB  build GB  path s  it  path GB*"
          "  peak GB  H_U GB")
    for T in Ts:  # a fresh process per T: its peak resident memory is this T's
        subprocess.run([sys.executable, __file__, "--one", "--n-a", str(n_a), "--T", str(T)],
                       check=True)
    print("* path GB: peak NumPy memory traced during the nonlinear path (tracemalloc)")


if __name__ == "__main__":
    main()
