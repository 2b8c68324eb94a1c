"""Solve time of the human_capital model: the calibrated section-4 economy, and a chain.

    python benchmarks/human_capital.py                       # the sweep point and the paper
    python benchmarks/human_capital.py --benchmark 1,9,3,2,2 1,11,7,4,5 [--paper]
    python benchmarks/human_capital.py --sizes 3,3,3,2,3 3,5,3,4,5 [--ages 69]

Default (``--benchmark`` with no sizes): the calibrated section-4 economy
(``human_capital_benchmark``: Tables 1-2 through the skewed-AR(1) and VAR discretisers) at
the sweeps' reduced size 1,9,3,2,2 (108 states, n_savings 25, 500 simulated agents), then
one full solve at the paper's size 3,11,7,4,5 (4,620 states, 660 transition rows of about
1,000 successors with positive probability); ``--no-paper`` skips that (about a quarter of
an hour of one core). For each size it prints the time to build the chain, one solve (the
second, after compilation), the moments (simulated profiles; the rest of a sweep point),
and the solve relative to the first size run. With ``--no-paper`` a paper-size solve is
extrapolated from seconds per unit of work of the largest size run.

Measured (two-core machine shared with other jobs, load average about 8): reduced size
build 1.2 s, solve 3.2 s wall (3.0 CPU), moments 0.47 s; paper size build 1.0 s, solve
999 s wall (655 CPU), moments 8.9 s: 312 times the reduced solve for 258 times the work.
The reduced solve was 4.0 CPU s before the portfolio condition's loop was made cheaper
(kernels._foc), 2.9-3.0 after, and 2.5-2.6 with Newton steps for the share
(kernels.stock_share; the paper-size figures above are from the 3.0 s version; with
Newton steps the paper-size solve took 601 CPU s, 1,014 s wall, at load average 7-8).

A size is n_xi,n_zeta,n_v,n_du,n_r: fixed effect (no transition), persistent AR(1),
iid transitory shock, aggregate earnings growth and the log stock return (the VAR).
Transition rows are shared by states that differ only in the transitory shock
(kernels.py), so the work per age is about rows x successors x savings nodes x share
iterations; the printed "work" column lets a size too large to run be extrapolated.
``--sizes`` times an illustrative Tauchen chain of the same shape (not the calibration)
against the iid stock economy (J = 46, 7 x 7 nodes) solved in the same run.
Run by hand on an otherwise idle machine; times are wall seconds (CPU seconds in
brackets, which a loaded machine inflates less).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hetspace.core.human_capital import MarkovParams, Numerics, Params, solve
from hetspace.core.numerics.markov import tauchen


def chain(n_xi, n_zeta, n_v, n_du, n_r, J):
    xi = np.linspace(-0.3, 0.3, n_xi) if n_xi > 1 else np.zeros(1)
    zeta, Pz = tauchen(n_zeta, 0.94, 0.22)
    v, Pv = tauchen(n_v, 0.0, 0.3)
    du, Pd = tauchen(n_du, 0.38, 0.02)
    lr, Pr = tauchen(n_r, 0.0, 0.18)
    P = np.kron(np.eye(n_xi), np.kron(Pz, np.kron(Pv, np.kron(Pd, Pr))))
    grid = np.meshgrid(xi, zeta, v, du, lr + 0.041, indexing="ij")
    xi_s, zeta_s, v_s, du_s, lr_s = (a.ravel() for a in grid)
    ret = round(J * 40 / 69)
    ages = np.arange(J)[:, None]
    growth = np.where(ages < ret, np.exp(du_s)[None, :], 1.0)
    growth = np.broadcast_to(growth, (J, xi_s.size)).copy()
    work = np.exp(xi_s + zeta_s + v_s)[None, :]
    earnings = np.where(ages < ret, work, 0.4 * np.exp(xi_s)[None, :])
    return MarkovParams(n_ages=J, beta=0.95, gamma=1 / 1.17, alpha=6.0, r=0.012,
                        transition=P, growth=growth, earnings=earnings,
                        stock_return=np.exp(lr_s), initial_state=0, wealth_1=0.3)


def timed(p, numerics):
    t0, c0 = time.perf_counter(), time.process_time()
    sol = solve(p, numerics)
    return time.perf_counter() - t0, sol, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="+", default=None)
    ap.add_argument("--ages", type=int, default=69)
    ap.add_argument("--n-savings", type=int, default=25)
    ap.add_argument("--benchmark", nargs="*", default=None)
    ap.add_argument("--paper", action=argparse.BooleanOptionalAction, default=True,
                    help="solve the paper's 3,11,7,4,5 economy too (default: yes)")
    args = ap.parse_args()
    if args.sizes is None:
        sizes = args.benchmark or ["1,9,3,2,2"]
        benchmark_sizes(sizes, args.n_savings, args.paper)
        return
    numerics = Numerics(n_savings=args.n_savings, n_quad=7)
    ref = Params(n_ages=46, beta=0.95, gamma=1 / 1.17, alpha=6.0, r=0.012, mu_z=-0.01,
                 sigma_z=0.15, stock=True, mu_s=0.045, sigma_s=0.18, corr=0.2)
    timed(ref, numerics)  # compile or load the cache
    t_ref, _, _ = timed(ref, numerics)
    print(f"reference iid economy: {t_ref:.3f} s")
    print("size (xi,zeta,v,du,r)  states  rows  succ/row  work/1e6  seconds  x reference")
    for size in args.sizes:
        dims = tuple(int(d) for d in size.split(","))
        p = chain(*dims, args.ages)
        t, sol, _ = timed(p, numerics)
        sh = sol.shocks
        succ = float(np.mean(np.diff(sh.ptr)))
        work = sh.n_rows * succ * numerics.n_savings * args.ages / 1e6
        print(f"{size:>20}  {sh.n_states:6d}  {sh.n_rows:4d}  {succ:8.0f}  {work:8.1f}  "
              f"{t:7.2f}  {t / t_ref:10.1f}")


def benchmark_sizes(sizes: list[str], n_savings: int, paper: bool) -> None:
    """Build, solve and simulate the calibrated section-4 economy at each size (and at the
    paper's, or extrapolate it)."""
    from hetspace.core.human_capital.benchmark import BenchmarkParams, make_benchmark_economy

    numerics = Numerics(n_savings=n_savings, n_sim=500)
    print(f"calibrated section-4 economy, 69 ages, n_savings {n_savings}; wall s (CPU s)")
    print("size (xi,zeta,v,du,r)  states  rows  succ/row  work/1e6   build s       solve s"
          "     moments s  x first")
    per_work = t_first = None
    J = 69
    for size in [*sizes, "3,11,7,4,5"] if paper else sizes:
        n_xi, n_zeta, n_v, n_du, n_r = (int(d) for d in size.split(","))
        bp = BenchmarkParams(n_xi=n_xi, n_zeta=n_zeta, n_v=n_v, n_du=n_du, n_r=n_r)
        t0 = time.perf_counter()
        p = make_benchmark_economy(bp)
        t_build = time.perf_counter() - t0
        if t_first is None:
            timed(p, numerics)  # compile or load the cache
        t, sol, cpu = timed(p, numerics)
        t0, c0 = time.perf_counter(), time.process_time()
        sol.moments()
        t_mom, c_mom = time.perf_counter() - t0, time.process_time() - c0
        t_first = t if t_first is None else t_first
        sh = sol.shocks
        succ = float(np.mean(np.diff(sh.ptr)))
        work = sh.n_rows * succ * n_savings * (J - 1) / 1e6
        per_work = t / work
        print(f"{size:>20}  {sh.n_states:6d}  {sh.n_rows:4d}  {succ:8.0f}  {work:8.2f}  "
              f"{t_build:8.2f}  {t:7.2f} ({cpu:6.2f})  {t_mom:5.2f} ({c_mom:5.2f})  "
              f"{t / t_first:7.1f}")
    if paper:
        return
    from hetspace.core.human_capital.shocks import make_shocks

    t0 = time.perf_counter()
    sh = make_shocks(make_benchmark_economy(BenchmarkParams()), numerics)  # ~0.9 GB peak
    t_build = time.perf_counter() - t0
    succ = float(np.mean(np.diff(sh.ptr)))
    work = sh.n_rows * succ * n_savings * (J - 1) / 1e6
    print(f"paper size 3,11,7,4,5 ({sh.n_states} states, {sh.n_rows} rows, {succ:.0f} "
          f"successors a row): chain built in {t_build:.1f} s; work {work:.0f}e6, one "
          f"solve about {work * per_work:.0f} s extrapolated from the last size")


if __name__ == "__main__":
    main()
