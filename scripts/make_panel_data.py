"""Write a synthetic household panel in the estimation data schema (run by hand).

    python scripts/make_panel_data.py [--beta 0.99] [--a-low -3.5] [--households 2000]
        [--periods 20] [--seed 777] [--out configs/estimation/data/huggett_panel.parquet]

Solves Huggett's (1993) economy (``examples.huggett_1993(n_a=120)``, the baseline of
configs/estimation/smm_panel_huggett.yaml) at the given discount factor and
borrowing limit, simulates a panel with ``simulate_panel`` from the stationary
distribution, and writes it with ``hetspace.estimation.data.write_panel``
(columns household, period, location, income, assets, consumption, at_limit;
CSV or Parquet by the extension). The panel is model output, not survey data:
its generating parameters are the truth an estimation should recover. The
default seed (777) is not one the example estimation simulates with, so the data
carry their own sampling error.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hetspace.core.incomplete_markets import (
    examples,
    panel_from_simulation,
    simulate_panel,
    solve,
)
from hetspace.estimation.data import write_panel

DEFAULT_OUT = (Path(__file__).resolve().parents[1] / "configs" / "estimation" / "data"
               / "huggett_panel.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beta", type=float, default=0.99)
    parser.add_argument("--a-low", type=float, default=-3.5)
    parser.add_argument("--households", type=int, default=2000)
    parser.add_argument("--periods", type=int, default=20)
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    params, numerics = examples.huggett_1993(n_a=120)
    sol = solve(params.with_(beta=args.beta, a_low=args.a_low), numerics)
    panel = panel_from_simulation(sol, simulate_panel(sol, args.households, args.periods,
                                                      args.seed))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    path = write_panel(panel, args.out)
    print(f"wrote {path} ({args.households} households x {args.periods} periods, "
          f"beta = {args.beta}, a_low = {args.a_low}, seed {args.seed}, "
          f"{path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
