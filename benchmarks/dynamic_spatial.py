"""Solve times of the dynamic spatial model: levels vs dynamic hat algebra vs hat of dots.

Run by hand: ``python benchmarks/dynamic_spatial.py [--quick]``. No target yet: prints the
seconds of one solve each and the ratios against levels measured in the same run.

- Part A: N = 50 regions, T = 200, a productivity ramp in region 0 (from its steady state).
- Part B: the 10 x 4 CDP example of examples/cdp_china_shock.yaml (T = 200).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from hetspace.core.dynamic_spatial import (
    Params,
    solve,
    solve_cdp,
    solve_cdp_counterfactual,
    solve_cdp_hat,
    solve_counterfactual,
    solve_dynamic_hat,
    solve_steady_state,
)

ROOT = Path(__file__).resolve().parents[1]


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _part_a(n: int, T: int) -> list[tuple[str, float, int]]:
    rng = np.random.default_rng(0)
    tau = 1.0 + rng.uniform(0.2, 1.5, (n, n))
    np.fill_diagonal(tau, 1.0)
    m = rng.uniform(2.0, 4.0, (n, n))
    np.fill_diagonal(m, 0.0)
    A0 = rng.uniform(0.5, 1.5, n)
    ramp = np.ones((T + 1, n))
    ramp[:, 0] = 0.8 ** np.clip(np.arange(T + 1) / 5, 0, 1)
    p = Params(sigma=4.0, beta=0.95, nu=1.0, A_path=A0 * ramp, tau=tau, m=m,
               L0=np.ones(n))
    p = p.with_(L0=solve_steady_state(p, A=A0).L)
    t_lev, lev = _timed(lambda: solve(p))
    t_hat, hat = _timed(lambda: solve_dynamic_hat(lev.observables(), lev.A_dot))
    A_hat = np.ones((T, n))
    A_hat[:5, 1] = 0.9 ** 0.2
    t_cf, cf = _timed(lambda: solve_counterfactual(hat, A_hat))
    return [("levels", t_lev, lev.n_iter), ("dynamic hat", t_hat, hat.n_iter),
            ("hat of dots", t_cf, cf.n_iter)]


def _part_b() -> list[tuple[str, float, int]]:
    sys.path.insert(0, str(ROOT / "examples"))
    from cdp_china_shock import build_params, load_config, shock_path

    from hetspace.core.dynamic_spatial import solve_cdp_steady_state

    cfg = load_config(ROOT / "examples/cdp_china_shock.yaml")
    params = build_params(cfg)
    params = params.with_(L0=solve_cdp_steady_state(params).L)
    T = cfg["horizon"]
    A_hat = shock_path(cfg, (T, *params.A_path.shape[1:]))
    A_cf = params.A_path * np.concatenate([np.ones((1, *A_hat.shape[1:])),
                                           np.cumprod(A_hat, axis=0)])
    p_cf = params.with_(A_path=A_cf)
    t_lev, lev = _timed(lambda: solve_cdp(p_cf))
    t_hat, hat = _timed(lambda: solve_cdp_hat(lev.observables(), lev.A_dot))
    base = solve_cdp_hat(lev.observables(), T=T)
    t_cf, cf = _timed(lambda: solve_cdp_counterfactual(base, A_hat))
    gap = float(np.max(np.abs(hat.L - lev.L)))
    print(f"  Part B check: max |L(hat) - L(levels)| = {gap:.1e}")
    return [("levels", t_lev, lev.n_iter), ("dynamic hat", t_hat, hat.n_iter),
            ("hat of dots", t_cf, cf.n_iter)]


def _report(title: str, rows) -> None:
    print(title)
    print(f"  {'method':<12} {'seconds':>8} {'outer it':>9} {'vs levels':>10}")
    for name, sec, it in rows:
        print(f"  {name:<12} {sec:>8.2f} {it:>9d} {sec / rows[0][1]:>10.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="Part A with N = 20, T = 80")
    args = ap.parse_args()
    n, T = (20, 80) if args.quick else (50, 200)
    _report(f"Part A: N = {n}, T = {T}", _part_a(n, T))
    _report("Part B: CDP 10 regions x 4 sectors + non-employment, T = 200", _part_b())


if __name__ == "__main__":
    main()
