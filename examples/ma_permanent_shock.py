"""Donald-Fukui-Miyauchi section 5 (Figure 4) in the status-quo economy: Massachusetts'
productivity falls by 1% permanently, on the synthetic 48-location economy.

    python examples/ma_permanent_shock.py --out out/ma [--n-a 200] [--T 200]

1. Solves the steady state of the synthetic economy (``synthetic.synthetic_params``:
   synthetic fundamentals, not US data) and the new steady state with A[MA, :] x 0.99
   (warm-started from the first).
2. Builds the spatial closure's GE Jacobian over T periods around the old steady state
   (``SpatialTransition``) and solves the nonlinear perfect-foresight path from the old
   steady state's distribution to the new steady state (quasi-Newton with that Jacobian),
   announced at date 0.
3. Writes paths.csv (t, populations of MA and its neighbours with their new
   steady-state values, MA's wage and price index, r, newborn welfare in MA and in
   total, consumption equivalent), paths.png and summary.md: the half-life of MA's
   population adjustment (first t with |L_t - L_new| <= |L_0 - L_new| / 2), the gap
   at T - 1, and the time and peak memory of each step.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np

from hetspace.core.config import atomic_write
from hetspace.core.incomplete_markets import solve
from hetspace.core.incomplete_markets.synthetic import state_codes, synthetic_params
from hetspace.core.incomplete_markets.transition_spatial import SpatialTransition
from hetspace.core.incomplete_markets.transition_welfare import transition_welfare

SHOCKED = "MA"
NEIGHBOURS = ("CT", "RI", "NH", "NY", "VT")


def run(n_a: int, T: int) -> dict:
    codes = state_codes()
    params, numerics = synthetic_params(n_a=n_a)
    ma = codes.index(SHOCKED)
    A = np.array(params.A, dtype=float)
    A[ma] *= 0.99
    cost = {}
    with _timed(cost, "steady state (cold)"):
        old = solve(params, numerics)
    with _timed(cost, "new steady state (warm)"):
        new = solve(params.with_(A=A), numerics, warm_start=old)
    with _timed(cost, f"GE Jacobian over T = {T} and its LU"):
        tr = SpatialTransition(old, T, outputs=())
    with _timed(cost, "nonlinear path"):
        path = tr.nonlinear(terminal=new)
    with _timed(cost, "welfare"):
        welfare = transition_welfare(old, path, new)
    return dict(codes=codes, old=old, new=new, path=path, welfare=welfare, cost=cost, T=T,
                n_a=n_a, H_U_bytes=tr._lu[0].nbytes)


def half_life(L: np.ndarray, L_new: float) -> int | None:
    gap = np.abs(L - L_new)
    hit = np.flatnonzero(gap <= 0.5 * gap[0])
    return int(hit[0]) if hit.size else None


def write_outputs(res: dict, out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    codes, old, new, path, welfare = (res[k] for k in ("codes", "old", "new", "path",
                                                        "welfare"))
    J = len(codes)
    out_names = path.path.output_names
    L = path.path.outputs[:, [out_names.index(f"L_{j}") for j in range(J)]]
    x = path.path.inputs
    ma = codes.index(SHOCKED)
    shown = [SHOCKED, *NEIGHBOURS]
    cols = ["t"]
    data = [np.arange(res["T"])]
    for c in shown:
        j = codes.index(c)
        cols += [f"L_{c}", f"L_{c}_new_ss"]
        data += [L[:, j], np.full(res["T"], new.population[j])]
    cols += ["w_MA", "P_MA", "r", "welfare_newborns_MA", "welfare_newborns_total"]
    data += [x[:, ma], x[:, J + ma], x[:, -1], welfare.newborns[:, ma], welfare.total]
    table = np.column_stack(data)
    _atomic(out / "paths.csv", ",".join(cols) + "\n" + "\n".join(
        ",".join(f"{v:.10g}" for v in row) for row in table) + "\n")
    hl = half_life(L[:, ma], new.population[ma])
    _plots(res, L, x, shown, out)
    lines = [f"# {SHOCKED} productivity -1% permanently (synthetic 48-location economy)", "",
             f"n_a = {res['n_a']}, T = {res['T']}; quasi-Newton steps {path.n_iter}, "
             f"max |target| {path.residual:.1e}.", "",
             f"Population of {SHOCKED}: {old.population[ma]:.6f} -> "
             f"{new.population[ma]:.6f} (new steady state), "
             f"{100 * (new.population[ma] / old.population[ma] - 1):.3f}%; "
             f"half-life {hl} periods; |L_T-1 - L_new| = "
             f"{abs(L[-1, ma] - new.population[ma]):.2e}.",
             f"Welfare (consumption equivalent) of {SHOCKED}'s date-0 population "
             f"{100 * welfare.initial[ma]:.3f}%, of its newborns in the new steady state "
             f"{100 * welfare.end[ma]:.3f}%.", "", "| step | seconds |", "|---|---|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in res["cost"].items()]
    lines += ["", f"Peak resident memory {_maxrss_gb():.2f} GB; H_U "
              f"{res['H_U_bytes'] / 1e9:.2f} GB."]
    text = "\n".join(lines) + "\n"
    _atomic(out / "summary.md", text)
    return text


def _plots(res, L, x, shown, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    codes, old, new, welfare = res["codes"], res["old"], res["new"], res["welfare"]
    t = np.arange(res["T"])
    ma = codes.index(SHOCKED)
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    ax = axes[0, 0]
    ax.plot(t, 100 * (L[:, ma] / old.population[ma] - 1), label="transition")
    ax.axhline(100 * (new.population[ma] / old.population[ma] - 1), ls="--", color="k",
               label="new steady state")
    ax.set(title=f"{SHOCKED}: population", xlabel="t", ylabel="% vs old steady state")
    ax.legend()
    ax = axes[0, 1]
    for c in shown[1:]:
        j = codes.index(c)
        ax.plot(t, 100 * (L[:, j] / old.population[j] - 1), label=c)
    ax.set(title="Neighbours: population", xlabel="t", ylabel="% vs old steady state")
    ax.legend()
    ax = axes[1, 0]
    ax.plot(t, 100 * (x[:, ma] / old.w[ma] - 1), label=f"w_{SHOCKED}")
    ax.plot(t, 1e4 * (x[:, -1] - old.r), label="r (bp)")
    ax.set(title="Prices", xlabel="t", ylabel="% (w), bp (r)")
    ax.legend()
    ax = axes[1, 1]
    ax.plot(t, 100 * welfare.newborns[:, ma], label=f"newborns in {SHOCKED}")
    ax.plot(t, 100 * welfare.total, label="all newborns")
    ax.set(title="Welfare (consumption equivalent)", xlabel="t", ylabel="%")
    ax.legend()
    fig.tight_layout()
    atomic_write(out / "paths.png", lambda fh: fig.savefig(fh, format="png", dpi=120))
    plt.close(fig)


class _timed:
    def __init__(self, cost: dict, name: str):
        self.cost, self.name = cost, name

    def __enter__(self):
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        self.cost[self.name] = time.perf_counter() - self.t0


def _maxrss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB on Linux


def _atomic(path: Path, text: str) -> None:
    atomic_write(path, lambda fh: fh.write(text.encode()))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="output directory")
    ap.add_argument("--n-a", type=int, default=200, help="asset grid points")
    ap.add_argument("--T", type=int, default=200, help="horizon")
    args = ap.parse_args(argv)
    print(write_outputs(run(args.n_a, args.T), args.out))


if __name__ == "__main__":
    main()
