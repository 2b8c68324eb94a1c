"""Donald-Fukui-Miyauchi Table 2 and Figures 1 and 3: the status quo and the planner's
three allocations, location by location, on the synthetic economy (NOT US data).

    python examples/planner_allocations.py --out out/planner [--locations 48] [--n-v 120]

1. Solves the status quo (the workhorse, ``incomplete_markets``: configs/models/
   spatial8.yaml's 8 locations, or with ``--locations 48`` the whole synthetic economy
   of ``synthetic.synthetic_params``), then the history-independent allocation, the
   second best and the first best (``planner``, the same fundamentals), each started
   from the status quo's populations.
2. Writes welfare.md and welfare.csv: newborn welfare C_eq = u^-1((1 - beta omega) W)
   of each allocation, and relative to the status quo, beside the paper's Table 2
   (1.000, 1.029, 1.042, 1.060; the fundamentals here are synthetic, so the levels
   are not comparable, the ordering and the magnitudes are).
3. Writes locations.csv and figures.png: consumption per capita (Figure 1) and
   population share (Figure 3) of each location against the status quo's real wage
   w / P, one marker per allocation; and, under the second best, the life cycle of
   households born in the locations of the lowest and the highest status-quo real wage
   who stay there (Figure 2: spending P C and income w by age, ``planner.histories``).
   The planner's consumption is in the units of its multipliers (welfare units: there
   is no numeraire), so consumption is shown relative to its population-weighted mean,
   for every allocation alike.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from hetspace.core import get_model
from hetspace.core.config import atomic_write, load_model_config
from hetspace.core.incomplete_markets.moments import newborn_welfare
from hetspace.core.incomplete_markets.synthetic import state_codes, synthetic_params
from hetspace.core.planner import Numerics, Params, Start
from hetspace.core.planner.histories import life_cycle

ROOT = Path(__file__).resolve().parents[1]
PAPER = {"status_quo": 1.000, "history_independent": 1.029, "second_best": 1.042,
         "first_best": 1.060}
ALLOCATIONS = ("history_independent", "second_best", "first_best")
LIFE = 60  # ages shown in the life-cycle figure


def run(locations: int, n_v: int) -> dict:
    if locations == 48:
        sq_params, sq_numerics = synthetic_params()
        codes = state_codes()
    else:
        cfg = load_model_config(ROOT / "configs/models/spatial8.yaml")
        sq_params, sq_numerics = cfg.params, cfg.numerics
        codes = tuple(loc.name for loc in cfg.locations)
    seconds = {}
    t = time.perf_counter()
    sq = get_model("incomplete_markets").solve(sq_params, sq_numerics)
    seconds["status_quo"] = time.perf_counter() - t
    p = sq_params
    out = {"status_quo": dict(
        welfare_ce=float(np.exp((1.0 - p.beta * p.omega) * newborn_welfare(sq))),
        population=sq.population, consumption=sq.by_location()["consumption_pc"])}
    planner = get_model("planner")
    for alloc in ALLOCATIONS:
        t = time.perf_counter()
        sol = planner.solve(Params.from_status_quo(sq_params, alloc), Numerics(n_v=n_v),
                            warm_start=Start(population=sq.population))
        seconds[alloc] = time.perf_counter() - t
        out[alloc] = dict(welfare_ce=sol.welfare_ce, population=sol.population,
                          consumption=sol.consumption_per_capita())
        if alloc == "second_best":
            real_wage = sq.w / sq.P
            stayers = [life_cycle(sol, int(i), LIFE)
                       for i in (np.argmin(real_wage), np.argmax(real_wage))]
    return dict(codes=codes, real_wage=sq.w / sq.P, allocations=out, seconds=seconds,
                n_v=n_v, n_a=sq_numerics.n_a, stayers=stayers)


def write_outputs(res: dict, out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    alloc = res["allocations"]
    base = alloc["status_quo"]["welfare_ce"]
    rows = [(name, a["welfare_ce"], a["welfare_ce"] / base, PAPER[name], res["seconds"][name])
            for name, a in alloc.items()]
    _write(out / "welfare.csv", "allocation,welfare_ce,relative_to_status_quo,paper,seconds\n"
           + "".join(f"{n},{w:.10g},{r:.10g},{pp},{s:.2f}\n" for n, w, r, pp, s in rows))
    cols = ["location", "real_wage_status_quo"]
    data = [list(res["codes"]), [f"{x:.10g}" for x in res["real_wage"]]]
    for name, a in alloc.items():
        cols += [f"population_{name}", f"consumption_{name}"]
        data += [[f"{x:.10g}" for x in a["population"]],
                 [f"{x:.10g}" for x in _relative(a["consumption"], a["population"])]]
    _write(out / "locations.csv", ",".join(cols) + "\n" + "".join(
        ",".join(str(c[i]) for c in data) + "\n" for i in range(len(res["codes"]))))
    _figures(res, out / "figures.png")
    ordered = bool(np.all(np.diff([r[1] for r in rows]) > 0))
    lines = [f"# Newborn welfare by allocation ({len(res['codes'])} synthetic locations)", "",
             f"Status quo n_a = {res['n_a']}; planner n_v = {res['n_v']}. C_eq = "
             "u^-1((1 - beta omega) W), W = sum_i L_i v^n_i.", "",
             "| allocation | C_eq | / status quo | paper | seconds |", "|---|---|---|---|---|"]
    lines += [f"| {n} | {w:.6f} | {r:.5f} | {pp:.3f} | {s:.1f} |" for n, w, r, pp, s in rows]
    lines += ["", f"Ordering status quo < history independent < second best < first best "
              f"holds: {ordered}."]
    text = "\n".join(lines) + "\n"
    _write(out / "welfare.md", text)
    return text


def _relative(consumption: np.ndarray, population: np.ndarray) -> np.ndarray:
    """Consumption per capita over its population-weighted mean (unit-free)."""
    return consumption / (population @ consumption / population.sum())


def _figures(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = res["real_wage"]
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8))
    markers = {"status_quo": "o", "history_independent": "s", "second_best": "^",
               "first_best": "D"}
    for name, a in res["allocations"].items():
        label = name.replace("_", " ")
        axes[0].scatter(x, _relative(a["consumption"], a["population"]), label=label,
                        marker=markers[name], alpha=0.75)
        axes[1].scatter(x, 100 * a["population"], label=label, marker=markers[name],
                        alpha=0.75)
    axes[0].set(xlabel="status quo real wage w / P", title="Consumption per capita (Figure 1)",
                ylabel="relative to the population-weighted mean")
    axes[1].set(xlabel="status quo real wage w / P", ylabel="population share (%)",
                title="Population (Figure 3)")
    if len(res["codes"]) <= 12:
        for i, code in enumerate(res["codes"]):
            axes[1].annotate(code, (x[i], 100 * res["allocations"]["status_quo"]["population"][i]),
                             fontsize=8, xytext=(3, 3), textcoords="offset points")
    axes[0].legend()
    ax = axes[2]
    for lc, style in zip(res["stayers"], ("-", "--"), strict=True):
        P = (lc.transfer + lc.income) / lc.consumption
        code = res["codes"][lc.location]
        ax.plot(P * lc.consumption, style, label=f"{code}: spending P C")
        ax.axhline(lc.income, ls=style, color="grey", lw=0.8)
        ax.annotate(f"{code} income w", (len(lc.consumption) - 1, lc.income), fontsize=8,
                    ha="right", va="bottom")
    ax.set(xlabel="age (years)", ylabel="multiplier units",
           title="Stayers under the second best (Figure 2)")
    ax.legend()
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)


def _write(path: Path, text: str) -> None:
    atomic_write(path, lambda fh: fh.write(text.encode()))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="output directory")
    ap.add_argument("--locations", type=int, choices=(8, 48), default=8,
                    help="8 (configs/models/spatial8.yaml) or 48 (the synthetic economy)")
    ap.add_argument("--n-v", type=int, default=120, help="promise grid points (second best)")
    args = ap.parse_args(argv)
    print(write_outputs(run(args.locations, args.n_v), args.out))


if __name__ == "__main__":
    main()
