"""Household-block Jacobians by fake news: hetspace against sequence-jacobian (ratios
in one run), and one nonlinear household path.

    python benchmarks/transitions.py [--n-a 500] [--T 300] [--repeat 9] [--cpu-time]

Aiyagari (1994) with 7 income states, risk aversion 2 (``examples.aiyagari_1994``),
its capital-closure steady state; the Jacobians of A and C in r and w over T.
hetspace: ``fake_news_jacobian(HouseholdBlock(sol), T, ["w_0", "r"], ["A_0", "C_0"])``, a
fresh block (its setup: Phi_z's factors and the input columns, included); with one
location the block derives C from A by the aggregate budget
(``HouseholdBlock.output_identities``), so the expectation vectors and the product
are A's alone. sequence-jacobian: a het block with the same EGM step on the same
grid, chain and prices (as in tests/core/incomplete_markets/test_transition_sj.py),
its own steady state (not timed) and ``jacobian(ss, ["r", "w"], ["A", "C"], T=T)``
with its default h = 1e-4. Both compiled once before timing; the two timed in turn
``repeat`` times and the minimum of each taken (load from other processes hits both
alike; the minimum is the least disturbed run). Then our pieces (setup, backward
pass, A's expectation vectors, A's product) and sequence-jacobian's four fake-news
products alone (twice the flops of our one gemm). Run by hand on an otherwise idle
machine if you can (sharing cores skews the ratio).

Measured (2 cores shared with another session; OPENBLAS_NUM_THREADS=1 --cpu-time
--repeat 9), three runs at load 2.3-2.6: hetspace 0.059, 0.056, 0.054 s;
sequence-jacobian 0.213, 0.211, 0.210 s; ratio 0.276, 0.267, 0.257 (run by run
0.19-0.37); three earlier runs at load 1.4-1.6: ratio 0.243, 0.244, 0.238 (run by
run 0.23-0.30). Pieces (third run): setup 0.006 s (Phi_z's entries and factors,
the lottery, two input columns by central differences: six EGM steps), backward
pass 0.017 s (0.011-0.013 on a quiet core), A's expectation vectors 0.002 s, A's
product (a 299 x 3500 by 3500 x 600 gemm, at about the peak of one core) 0.030 s;
sequence-jacobian's four build_F products 0.061 s. The product is 0.14 of
sequence-jacobian's total, and about 0.55 of ours. Before issue 13's last step
(C by its own expectation vectors and product, the backward pass through
Phi_z's CSR rows): hetspace 0.122 s, ratio 0.53.
"""

from __future__ import annotations

import argparse
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


CLOCK = time.perf_counter  # --cpu-time: time.process_time


def _interleaved_min(fns, repeat):
    """Each function timed ``repeat`` times in turn (so load hits both sides alike); the
    minimum of each (the run least disturbed by other processes)."""
    times = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = CLOCK()
            fn()
            times[name].append(CLOCK() - t0)
    return {name: min(t) for name, t in times.items()}, times


def _pieces(sol, T):
    """Our pieces: the block's setup (steady-state linearisation, Phi_z's factors and
    the two input columns), the fused backward pass, the expectation vectors and the
    fake-news product (one gemm) of A alone (C follows from A by the block's output
    identity, ``HouseholdBlock.output_identities``)."""
    block = HouseholdBlock(sol)
    rows = [block.outputs.index("A_0"), block.outputs.index("C_0")]
    unit = np.zeros((len(block.inputs), 2))
    unit[[block.inputs.index("w_0"), block.inputs.index("r")], [0, 1]] = 1.0
    _, d = block.fake_news_backward(T, unit, rows)
    o = block.output_vectors()[:, rows[:1]]
    e = block.expectation_vectors(o, T - 1)
    E, D = e.reshape(-1, block.N), d.reshape(block.N, -1)
    prod = np.empty((E.shape[0], D.shape[1]))

    def setup():
        lin = HouseholdBlock(sol)._linearisation()
        lin.one_location(), lin.now_times(unit), lin.next_times(unit)

    return {"setup": setup,
            "backward": lambda: block.fake_news_backward(T, unit, rows),
            "expectations": lambda: block.expectation_vectors(o, T - 1),
            "product (gemm)": lambda: np.matmul(E, D, out=prod)}


def _sj_build_f(ss, T):
    """sequence-jacobian's fake-news products alone (its build_F, one per output and
    input: the same flops as our one gemm), on arrays of its shapes."""
    n = ss.internals["household"]["a"].size
    E, D = np.ones((T - 1, n)), np.ones((T, n))
    return lambda: [household.build_F(np.zeros(T), D, E) for _ in range(4)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-a", type=int, default=500)
    ap.add_argument("--T", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--cpu-time", action="store_true",
                    help="CPU seconds of this process instead of wall time (with "
                         "OPENBLAS_NUM_THREADS=1: one core each side, less sensitive to "
                         "other processes than wall time on a shared machine)")
    args = ap.parse_args()
    global CLOCK
    if args.cpu_time:
        CLOCK = time.process_time
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
    best, times = _interleaved_min({"ours": ours, "sj": theirs}, args.repeat)
    clock = "CPU" if args.cpu_time else "wall"
    print(f"Aiyagari S=7 n_a={args.n_a} T={args.T}: Jacobians of A, C in r, w "
          f"(min of {args.repeat}, interleaved, {clock} time)")
    print(f"  hetspace fake news   {best['ours']:8.3f} s")
    print(f"  sequence-jacobian    {best['sj']:8.3f} s")
    each = " ".join(f"{a / b:.2f}" for a, b in zip(times["ours"], times["sj"], strict=True))
    print(f"  ratio hetspace / SJ  {best['ours'] / best['sj']:8.3f}   (run by run: {each})")
    pieces = {**_pieces(sol, args.T), "SJ build_F x4": _sj_build_f(ss, args.T)}
    for fn in pieces.values():
        fn()
    part, _ = _interleaved_min(pieces, args.repeat)
    print("  pieces (min): " + ", ".join(f"{k} {v:.3f} s" for k, v in part.items()))
    print(f"  floor: our gemm alone / SJ's total = {part['product (gemm)'] / best['sj']:.3f}")
    jac, ref = ours(), theirs()
    err = max(np.abs(jac.get(f"{o}_0", m) - ref[o][i]).max() / np.abs(ref[o][i]).max()
              for o in ("A", "C") for i, m in (("r", "r"), ("w", "w_0")))
    print(f"  max relative gap (SJ's h = 1e-4): {err:.2e}")
    block = HouseholdBlock(sol)
    x = np.tile(block.steady_inputs(), (args.T, 1))
    x[:, -1] += 1e-3 * 0.9 ** np.arange(args.T)
    tracemalloc.start()
    t_path = _interleaved_min({"path": lambda: transition_path(block, x)}, 3)[0]["path"]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"  one nonlinear household path: {t_path:.3f} s, peak {peak / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
