"""Generate the synthetic 48-location dataset shipped with hetspace (run by hand).

    python scripts/generate_spatial_synthetic.py [--n-a 200] [--out DIR]

Solves the spatial closure of the incomplete-markets model at the documented
fundamentals of ``hetspace.core.incomplete_markets.synthetic`` (48 contiguous US
states: real centroids and 2017 populations as inputs, everything else
invented) and writes what the steady state generates: trade.csv,
migration.csv (origin, destination, value), locations.csv (population shares,
wage, price_index, transfers, labour) and fundamentals.json (the generating
parameters, numerics (n_a also at the top level), the equilibrium r and
mpc_mean, i.e. the calibration targets, and the code version that generated
them: hetspace version, git commit and whether the tree had local changes).
The data are synthetic: model output, not US data.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

from hetspace import __version__
from hetspace.core.incomplete_markets import solve
from hetspace.core.incomplete_markets.data import SYNTHETIC, SpatialData
from hetspace.core.incomplete_markets.synthetic import state_codes, synthetic_params

DEFAULT_OUT = (Path(__file__).resolve().parents[1] / "core" / "incomplete_markets" / "data"
               / SYNTHETIC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-a", type=int, default=200)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    params, numerics = synthetic_params(n_a=args.n_a)
    start = time.perf_counter()
    sol = solve(params, numerics)
    seconds = time.perf_counter() - start
    data = SpatialData.from_solution(sol, names=state_codes())
    data.to_tidy(args.out)
    moments = sol.moments()
    fundamentals = {"params": params.to_dict(), "numerics": numerics.to_dict(),
                    "n_a": numerics.n_a, "code_version": _code_version(),
                    "r": sol.r, "mpc_mean": moments["mpc_mean"],
                    "residuals": dict(sol.residuals), "solve_seconds": seconds}
    (args.out / "fundamentals.json").write_text(json.dumps(fundamentals, indent=1) + "\n")
    print(f"wrote {args.out} (solve {seconds:.1f} s, r = {sol.r:.6f}, "
          f"mpc = {moments['mpc_mean']:.4f}, residuals {dict(sol.residuals)})")


def _code_version() -> dict:
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                 check=True)
        except (OSError, subprocess.CalledProcessError):
            return None
        return out.stdout.strip()

    status = git("status", "--porcelain", "--", "core/incomplete_markets")
    return {"hetspace": __version__, "git_commit": git("rev-parse", "HEAD"),
            "incomplete_markets_modified": None if status is None else bool(status)}


if __name__ == "__main__":
    main()
