"""A "China shock"-style counterfactual in the Caliendo-Dvorkin-Parro (2019) economy.

    python examples/cdp_china_shock.py examples/cdp_china_shock.yaml --out out/cdp

1. Draws the fundamentals of a 10-region x 4-sector economy from the config (seeded) and
   solves its steady state in levels: the synthetic baseline (documented in the config).
2. Keeps only that baseline's observables (trade flows, households by market, migration
   matrix) and solves the baseline path by dynamic hat algebra (constant fundamentals).
3. Solves the counterfactual relative to it (hat of dots): a permanent productivity decline
   in one sector-region, phased in from t = 1 and announced at t = 0.
4. Writes employment paths by market, real wages and welfare changes by market (CDP's
   consumption-equivalent measure from u-hat) as CSV and Markdown tables and PNG plots.
   ``--check-levels`` also solves both economies in levels and reports the largest gap.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml

from hetspace.core.config import atomic_write
from hetspace.core.dynamic_spatial import (
    CDPParams,
    Structure,
    solve_cdp,
    solve_cdp_counterfactual,
    solve_cdp_hat,
    solve_cdp_steady_state,
)
from hetspace.core.errors import InvalidConfigError

_KEYS = {"model", "seed", "regions", "sectors", "horizon", "structure", "fundamentals",
         "shock"}


def load_config(path: Path) -> dict:
    with open(path) as fh:
        cfg = yaml.safe_load(fh)
    problems = [f"{k}: unknown key (allowed: {sorted(_KEYS)})" for k in cfg if k not in _KEYS]
    problems += [f"{k}: missing" for k in sorted(_KEYS - set(cfg))]
    if not problems and cfg["shock"]["sector"] not in cfg["sectors"]:
        problems.append(f"shock.sector: must be one of {cfg['sectors']}, "
                        f"got {cfg['shock']['sector']!r}")
    if problems:
        raise InvalidConfigError(str(path), problems)
    return cfg


def build_params(cfg: dict) -> CDPParams:
    """Fundamentals drawn from the config; L0 is a placeholder until the steady state."""
    rng = np.random.default_rng(cfg["seed"])
    N, J, T = cfg["regions"], len(cfg["sectors"]), cfg["horizon"]
    st, fu = cfg["structure"], cfg["fundamentals"]
    g = np.clip(np.asarray(st["value_added_share"]) + rng.uniform(-0.05, 0.05, (N, J)), 0.1, 1)
    io = rng.uniform(0.2, 1.0, (N, J, J))
    io *= ((1.0 - g) / io.sum(axis=2))[:, :, None]
    s = Structure(beta=st["beta"], nu=st["nu"], theta=st["theta"], alpha=st["alpha"],
                  gamma_va=g, io=io, xi=rng.uniform(*st["structures_share"], N),
                  iota=rng.dirichlet(np.full(N, 5.0)), non_employment=True)
    sites = rng.uniform(0.0, 1.0, N)
    dist = np.abs(sites[:, None] - sites[None, :])
    kappa = np.broadcast_to(1.0 + fu["trade_cost_per_distance"] * dist, (J, N, N))
    S = J + 1
    region = np.kron(1.0 - np.eye(N), np.ones((S, S)))
    sector = np.kron(np.ones((N, N)), 1.0 - np.eye(S))
    tau = fu["migration_cost_region"] * region + fu["migration_cost_sector"] * sector
    A = np.exp(rng.normal(0.0, fu["productivity_sd"], (N, J)))
    L0 = np.full((N, S), 1.0)
    return CDPParams(structure=s, A_path=np.broadcast_to(A, (T + 1, N, J)), kappa=kappa,
                     tau=tau, L0=L0, H=rng.uniform(0.5, 1.5, (N, J)),
                     b=np.full(N, fu["home_production"]))


def shock_path(cfg: dict, shape) -> np.ndarray:
    """(T, N, J) A-hat_t = A-dot'_t / A-dot_t: the decline spread evenly over phase_in periods."""
    sh = cfg["shock"]
    j = cfg["sectors"].index(sh["sector"])
    A_hat = np.ones(shape)
    A_hat[: sh["phase_in"], sh["region"], j] = sh["size"] ** (1.0 / sh["phase_in"])
    return A_hat


def run(cfg: dict, check_levels: bool = False) -> dict:
    params = build_params(cfg)
    params = params.with_(L0=solve_cdp_steady_state(params).L)
    snapshot = solve_cdp(params.with_(A_path=params.A_path[:2]))  # period-0 observables
    obs = snapshot.observables()
    T = cfg["horizon"]
    base = solve_cdp_hat(obs, T=T)
    A_hat = shock_path(cfg, (T, *params.A_path.shape[1:]))
    cf = solve_cdp_counterfactual(base, A_hat)
    out = {"params": params, "base": base, "cf": cf, "gap": None}
    if check_levels:
        A_cf = params.A_path * np.concatenate([np.ones((1, *A_hat.shape[1:])),
                                               np.cumprod(A_hat, axis=0)])
        lev_cf = solve_cdp(params.with_(A_path=A_cf))
        out["gap"] = float(np.max(np.abs(lev_cf.L - cf.L)))
    return out


def write_outputs(cfg: dict, res: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    cf, base = res["cf"], res["base"]
    names = ["non-employment", *cfg["sectors"]]
    T1, N, S = cf.L.shape
    rows = [f"{t},{n},{names[s]},{base.L[t, n, s]:.10g},{cf.L[t, n, s]:.10g}"
            for t in range(T1) for n in range(N) for s in range(S)]
    _atomic(out_dir / "employment_paths.csv", "t,region,market,L_baseline,L_counterfactual\n"
            + "\n".join(rows) + "\n")
    real = cf.w_ratio / cf.Pc_ratio[:, :, None]
    rows = [f"{t},{n},{cfg['sectors'][j]},{real[t, n, j]:.10g}"
            for t in range(T1) for n in range(N) for j in range(S - 1)]
    _atomic(out_dir / "real_wages.csv", "t,region,sector,real_wage_cf_over_baseline\n"
            + "\n".join(rows) + "\n")
    welfare = 100.0 * cf.welfare_ce
    _atomic(out_dir / "welfare.csv", "region," + ",".join(names) + "\n" + "\n".join(
        f"{n}," + ",".join(f"{v:.6f}" for v in welfare[n]) for n in range(N)) + "\n")
    _atomic(out_dir / "summary.md", _summary(cfg, res, names, welfare))
    _plots(cfg, res, names, real, welfare, out_dir)


def _summary(cfg, res, names, welfare) -> str:
    cf = res["cf"]
    lines = ["# CDP counterfactual: productivity decline in "
             f"{cfg['shock']['sector']} of region {cfg['shock']['region']}", "",
             "Synthetic economy (see the config). Welfare: consumption-equivalent change of "
             "each market's period-0 households, 100 (exp((1 - beta) log u-hat_0) - 1), %.",
             "", "| region | " + " | ".join(names) + " |",
             "|---" * (len(names) + 1) + "|"]
    lines += [f"| {n} | " + " | ".join(f"{v:.3f}" for v in welfare[n]) + " |"
              for n in range(welfare.shape[0])]
    lines += ["", "| moment | value |", "|---|---|"]
    lines += [f"| {k} | {v:.6g} |" for k, v in cf.moments().items()]
    lines += ["", f"Solver: {cf.n_iter} outer iterations, residuals "
              f"{dict((k, float(f'{v:.2e}')) for k, v in cf.residuals.items())}."]
    if res["gap"] is not None:
        lines.append(f"Levels check: max |L'(levels) - L'(hat of dots)| = {res['gap']:.2e}.")
    return "\n".join(lines) + "\n"


def _plots(cfg, res, names, real, welfare, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cf = res["cf"]
    n0, j0 = cfg["shock"]["region"], cfg["sectors"].index(cfg["shock"]["sector"])
    t = np.arange(cf.L.shape[0])
    ratio = 100.0 * (cf.L / cf.L_base - 1.0)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for s, name in enumerate(names):
        axes[0].plot(t, ratio[:, n0, s], label=name)
    axes[0].set(title=f"Region {n0}: households by market", xlabel="t",
                ylabel="% vs baseline")
    axes[0].legend()
    for n in range(cf.L.shape[1]):
        axes[1].plot(t, ratio[:, n, j0 + 1], lw=2.5 if n == n0 else 1.0, label=f"region {n}")
    axes[1].set(title=f"{cfg['shock']['sector']} employment by region", xlabel="t")
    axes[1].legend(fontsize=7, ncol=2)
    for j, name in enumerate(names[1:]):
        axes[2].plot(t, 100.0 * (real[:, n0, j] - 1.0), label=name)
    axes[2].set(title=f"Region {n0}: real wages", xlabel="t", ylabel="% vs baseline")
    axes[2].legend()
    fig.tight_layout()
    _save(fig, out_dir / "paths.png")
    fig, ax = plt.subplots(figsize=(6, 5))
    im = ax.imshow(welfare, cmap="RdBu", vmin=-abs(welfare).max(), vmax=abs(welfare).max())
    ax.set(xticks=range(len(names)), xticklabels=names, ylabel="region",
           title="Welfare change by market (%, consumption equivalent)")
    ax.tick_params(axis="x", rotation=30)
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    _save(fig, out_dir / "welfare.png")
    plt.close("all")


def _save(fig, path: Path) -> None:
    atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=120))


def _atomic(path: Path, text: str) -> None:
    atomic_write(path, lambda fh: fh.write(text.encode()))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", type=Path, nargs="?",
                    default=Path(__file__).parent / "cdp_china_shock.yaml")
    ap.add_argument("--out", type=Path, required=True, help="output directory")
    ap.add_argument("--check-levels", action="store_true",
                    help="also solve in levels and report the largest gap in L")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    res = run(cfg, check_levels=args.check_levels)
    write_outputs(cfg, res, args.out)
    print((args.out / "summary.md").read_text())


if __name__ == "__main__":
    main()
