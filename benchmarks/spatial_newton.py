"""The spatial closure's Newton solver on the synthetic 48-location economy: work counts.

Run by hand: ``python benchmarks/spatial_newton.py [--grid] [--differences] [--no-chord]``.
Prints, with the load average (the machine is shared; the counts and, less so,
the CPU seconds do not depend on it):

- a cold solve of the DFM calibration (S = 1, n_a = 200): wall and CPU seconds,
  Newton steps, household Jacobians, household solves, EGM steps and, of those,
  chord steps (an EGM step followed by a chord correction: one pair of triangular
  solves with the LU of I - Phi_z);
- warm re-solves after 1% changes of theta, alpha_agg and Massachusetts'
  productivity row, from the cold solution;
- with ``--grid``, cold solves over theta in {0.5, 1, 2, 4, 8} x gamma in {1, 3}
  (issue 12's acceptance grid for this economy): status and counts per point.

A household Jacobian is one sparse LU of the linearised EGM step plus one
household solve (the r column); with ``--differences`` it is (2J + 1) household
solves instead (one income state), which is what the solver did before; with
``--no-chord`` household solves iterate plain EGM steps only. EGM steps
count every household EGM iteration, those of the Jacobian's household solves
included (the LU and its triangular solves are not EGM steps: see the CPU time).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

from hetspace.core import SolverConvergenceError
from hetspace.core.incomplete_markets import solve, spatial_outer
from hetspace.core.incomplete_markets.spatial import uniqueness_condition
from hetspace.core.incomplete_markets.synthetic import state_codes, synthetic_params


def _row(label: str, seconds: tuple[float, float], sol) -> str:
    r = sol.residuals
    return (f"{label:>22} {seconds[0]:>7.2f} {seconds[1]:>7.2f} {r['outer_iterations']:>6.0f} "
            f"{r['jacobians']:>5.0f} "
            f"{sol.n_iter:>6d} {r['egm_steps']:>8.0f} {r.get('chord_steps', 0):>6.0f} "
            f"{r.get('continuation_steps', 0):>5.0f}")


def _timed(fn):
    """((wall seconds, CPU seconds of this process), fn())."""
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return (time.perf_counter() - start, time.process_time() - cpu), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", action="store_true", help="also the theta x gamma grid")
    parser.add_argument("--differences", action="store_true",
                        help="household Jacobians by forward differences through household "
                             "solves instead of the implicit function theorem")
    parser.add_argument("--no-chord", action="store_true",
                        help="household solves by plain EGM iteration, without chord steps")
    args = parser.parse_args()
    spatial_outer.IMPLICIT_JACOBIAN = not args.differences
    spatial_outer.CHORD = not args.no_chord
    warnings.simplefilter("ignore")
    params, numerics = synthetic_params(n_a=200)
    solve(*synthetic_params(("MA", "NY", "CT"), n_a=40))  # compile the kernels first
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'':>22} {'s':>7} {'CPU s':>7} {'Newton':>6} {'Jac':>5} {'solves':>6} {'EGM':>8} "
          f"{'chord':>6} {'cont':>5}")
    seconds, base = _timed(lambda: solve(params, numerics))
    print(_row("cold, DFM calibration", seconds, base))
    ma = state_codes().index("MA")
    A = np.array(params.A)
    A[ma, :] *= 1.01
    for name, new in (("theta +1%", params.with_(theta=params.theta * 1.01)),
                      ("alpha_agg +1%", params.with_(alpha_agg=params.alpha_agg * 1.01)),
                      ("A[MA, :] +1%", params.with_(A=A))):
        seconds, sol = _timed(lambda new=new: solve(new, numerics, warm_start=base))
        print(_row(f"warm, {name}", seconds, sol))
    if not args.grid:
        return
    for gamma in (1.0, 3.0):
        for theta in (0.5, 1.0, 2.0, 4.0, 8.0):
            point = params.with_(theta=theta, gamma=gamma)
            label = f"theta {theta:g}, gamma {gamma:g}"
            try:
                seconds, sol = _timed(lambda point=point: solve(point, numerics))
            except SolverConvergenceError as e:
                condition = uniqueness_condition(point)
                print(f"{label:>22} failed: {str(e)[:120]} (condition: {condition or 'holds'})")
                continue
            print(_row(label, seconds, sol))


if __name__ == "__main__":
    main()
