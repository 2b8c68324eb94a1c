"""Sampled designs and global sensitivity: Sobol indices and Morris effects (SALib).

A sweep's ``sample`` section draws a design over bounded Params fields::

    sample:
      design: sobol          # sobol (Saltelli's scheme: Sobol indices), morris, lhs
      n: 64                  # base size (sobol: N, rows N (D + 2); morris: trajectories,
                             #   rows n (D + 1); lhs: rows)
      bounds: {theta: [0.2, 0.6], gamma: [1.0, 3.0], a_low: [-1.0, -0.3]}
      seed: 0                # default: the spec's seed

The design's rows become the sweep's points (like ``zip`` rows; with ``shocks``, each
row also with each shock). ``hetspace sensitivity RESULTS_DIR`` then computes, for each
moment, Sobol first-order and total indices with bootstrap confidence intervals
(``design: sobol``; SALib's ``analyze.sobol``) or Morris elementary effects (mu*,
sigma; ``design: morris``), from the unshocked points or, with ``--shock``, from the
effects of one shock; writes sensitivity.csv, sensitivity.md and one bar plot per
moment. An ``lhs`` design has no such indices (it is for exploring, not decomposing).
Every design row must have solved: a failed point leaves a hole SALib cannot take,
and the analysis names the failed points instead.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hetspace.core.errors import HetspaceError

DESIGNS = ("sobol", "morris", "lhs")
SAMPLE_KEYS = ("design", "n", "bounds", "seed")
MORRIS_LEVELS = 4
CONF_LEVEL = 0.95
RESAMPLES = 1000


class SensitivityError(HetspaceError, ValueError):
    """A sensitivity analysis that cannot be made from the stored sweep."""


@dataclasses.dataclass(frozen=True, slots=True)
class Sample:
    """A validated ``sample`` section (module docstring)."""

    design: str
    n: int
    bounds: Mapping[str, tuple[float, float]]
    seed: int

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.bounds)

    def problem(self) -> dict[str, Any]:
        """SALib's problem dict."""
        return {"num_vars": len(self.bounds), "names": list(self.bounds),
                "bounds": [list(b) for b in self.bounds.values()]}

    def rows(self) -> np.ndarray:
        """The design (rows, D) in the parameters' units."""
        problem = self.problem()
        if self.design == "sobol":
            from SALib.sample import sobol

            return sobol.sample(problem, self.n, calc_second_order=False, seed=self.seed)
        if self.design == "morris":
            from SALib.sample import morris

            return morris.sample(problem, self.n, num_levels=MORRIS_LEVELS, seed=self.seed)
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=len(self.bounds), seed=self.seed).random(self.n)
        lo, hi = np.array(problem["bounds"]).T
        return qmc.scale(unit, lo, hi)


def parse_sample(body: Mapping[str, Any], fields: Sequence[str] | None, seed: int,
                 add) -> Sample | None:
    """The ``sample`` section as a :class:`Sample`; problems go to ``add(path, text)``."""
    design = body.get("design", "sobol")
    if design not in DESIGNS:
        add(("sample", "design"), f"must be one of {', '.join(DESIGNS)}, got {design!r}")
    n = body.get("n")
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        add(("sample", "n"), f"must be an integer >= 2 (the design's base size), got {n!r}")
    elif design == "sobol" and n & (n - 1):
        add(("sample", "n"), f"must be a power of 2 for a Sobol design (its sequence's "
            f"balance), got {n}")
    own_seed = body.get("seed", seed)
    if isinstance(own_seed, bool) or not isinstance(own_seed, int) or own_seed < 0:
        add(("sample", "seed"), f"must be an integer >= 0, got {own_seed!r}")
    bounds = body.get("bounds")
    good: dict[str, tuple[float, float]] = {}
    if not isinstance(bounds, Mapping) or not bounds:
        add(("sample", "bounds"), f"must be a non-empty mapping of Params field: [low, high], "
            f"got {bounds!r}")
        bounds = {}
    for name, pair in bounds.items():
        if fields is not None and name not in fields:
            add(("sample", "bounds", name), f"is not a Params field; fields: {', '.join(fields)}")
        elif not (isinstance(pair, (list, tuple)) and len(pair) == 2
                  and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                          and math.isfinite(x) for x in pair) and pair[0] < pair[1]):
            add(("sample", "bounds", name), f"must be [low, high] with low < high, got {pair!r}")
        else:
            good[str(name)] = (float(pair[0]), float(pair[1]))
    if len(good) != len(bounds) or design not in DESIGNS or not isinstance(n, int) \
            or isinstance(n, bool) or not isinstance(own_seed, int):
        return None
    return Sample(design, n, good, own_seed)


def sample_from_dict(body: Mapping[str, Any], seed: int) -> Sample:
    """The Sample of a stored spec's section (already validated when the sweep ran)."""
    problems: list[str] = []
    sample = parse_sample(body, None, seed, lambda path, text: problems.append(text))
    if sample is None:
        raise SensitivityError(f"the stored sample section is not valid: {'; '.join(problems)}")
    return sample


def indices(sample: Sample, design: np.ndarray, y: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """One row per parameter: Sobol S1, S1_conf, ST, ST_conf (``design: sobol``) or
    Morris mu, mu_star, mu_star_conf, sigma (``design: morris``) of outputs ``y`` at the
    design's rows."""
    problem = sample.problem()
    y = np.asarray(y, dtype=float)
    if sample.design == "sobol":
        from SALib.analyze import sobol

        res = sobol.analyze(problem, y, calc_second_order=False, num_resamples=RESAMPLES,
                            conf_level=CONF_LEVEL, seed=seed)
        cols = ("S1", "S1_conf", "ST", "ST_conf")
    elif sample.design == "morris":
        from SALib.analyze import morris

        res = morris.analyze(problem, np.asarray(design), y, num_resamples=RESAMPLES,
                             conf_level=CONF_LEVEL, num_levels=MORRIS_LEVELS, seed=seed)
        cols = ("mu", "mu_star", "mu_star_conf", "sigma")
    else:
        raise SensitivityError("an lhs design has no sensitivity indices; use design: sobol "
                               "(Sobol indices) or morris (elementary effects)")
    return pd.DataFrame({c: np.asarray(res[c], dtype=float) for c in cols},
                        index=pd.Index(sample.names, name="parameter"))


def analyze(results: pd.DataFrame, design: np.ndarray, keys: Sequence[str],
            sample: Sample, moments: Sequence[str], seed: int = 0) -> pd.DataFrame:
    """Indices of each of ``moments`` (stored column names) from the stored ``results``
    rows whose keys are ``keys`` (one per design row, in design order)."""
    by_key = results.drop_duplicates("key").set_index("key")
    missing = [k for k in keys if k not in by_key.index]
    failed = [k for k in keys if k in by_key.index and by_key.at[k, "status"] != "ok"]
    if missing or failed:
        raise SensitivityError(
            f"{len(failed)} failed and {len(missing)} missing of the design's {len(keys)} "
            "points: every row of the design must have solved (resume the sweep, with "
            "--retry-failed for failed points)")
    frames = []
    for m in moments:
        if m not in by_key.columns:
            raise SensitivityError(f"no stored column {m!r}; stored moments: "
                                   + ", ".join(c for c in by_key.columns if c.startswith("m_")))
        y = by_key.loc[list(keys), m].to_numpy(dtype=float)
        if not np.all(np.isfinite(y)):
            raise SensitivityError(f"{m}: {int(np.sum(~np.isfinite(y)))} design points have "
                                   "no finite value")
        frame = indices(sample, design, y, seed).reset_index()
        frame.insert(0, "moment", m)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def write_outputs(table: pd.DataFrame, sample: Sample, out_dir: Path) -> list[Path]:
    """sensitivity.csv, sensitivity.md and sensitivity_<moment>.png in ``out_dir``."""
    from hetspace.core.config import atomic_write

    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "sensitivity.csv", out_dir / "sensitivity.md"]
    atomic_write(written[0], lambda fh: fh.write(table.to_csv(index=False).encode()))
    title = ("Sobol indices (first order S1, total ST; 95% bootstrap intervals)"
             if sample.design == "sobol" else "Morris elementary effects (mu*, sigma)")
    from .tables import format_tables

    text = f"# {title}\n\n{sample.design} design, n = {sample.n}\n\n" + format_tables(
        [(str(m).removeprefix("m_"), part.drop(columns="moment").set_index("parameter"))
         for m, part in table.groupby("moment", sort=False)], "md")
    atomic_write(written[1], lambda fh: fh.write(text.encode()))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for moment, part in table.groupby("moment", sort=False):
        fig, ax = plt.subplots(figsize=(1.5 + 1.2 * len(part), 3.6))
        x = np.arange(len(part))
        if sample.design == "sobol":
            ax.bar(x - 0.18, part["S1"], 0.36, yerr=part["S1_conf"], label="first order S1")
            ax.bar(x + 0.18, part["ST"], 0.36, yerr=part["ST_conf"], label="total ST")
            ax.set_ylabel("Sobol index")
        else:
            ax.bar(x, part["mu_star"], 0.5, yerr=part["mu_star_conf"], label="mu*")
            ax.set_ylabel("mean |elementary effect|")
        ax.set_xticks(x, part["parameter"])
        ax.set_title(str(moment).removeprefix("m_"))
        ax.legend()
        fig.tight_layout()
        path = out_dir / f"sensitivity_{str(moment).removeprefix('m_')}.png"
        tmp = path.with_suffix(".tmp.png")
        fig.savefig(tmp, dpi=110)
        plt.close(fig)
        tmp.replace(path)
        written.append(path)
    return written


def sensitivity_from_dir(out_dir: str | Path, moments: Sequence[str] | None = None,
                         shock: str = "none") -> tuple[pd.DataFrame, list[Path]]:
    """The analysis of the sampled sweep stored in ``out_dir`` (its ``sweep.json`` holds
    the design): indices of ``moments`` (default: the spec's) at the points of ``shock``
    (a shock label, 'none': the unshocked economy; shocked points carry the shock's
    effects); writes the outputs into ``out_dir``."""
    from .effects import add_shock_effects
    from .store import MOMENT_PREFIX, load_results
    from .tables import read_meta

    out_dir = Path(out_dir)
    meta = read_meta(out_dir)
    stored = meta.get("sample")
    if not stored:
        raise SensitivityError(f"{out_dir} holds no sampled sweep: give the spec a sample "
                               "section (sweeps/sensitivity.py)")
    sample = sample_from_dict(stored, int(stored.get("seed", 0)))
    keys = stored["keys"].get(shock)
    if keys is None:
        raise SensitivityError(f"no points with shock {shock!r}; shocks: "
                               + ", ".join(map(repr, stored["keys"])))
    results = load_results(out_dir)
    if shock != "none":
        results = add_shock_effects(results, [a for a in meta["axes"] if a != "shock"])
    names = list(moments) if moments else list(meta["moments"]) or sorted(
        c.removeprefix(MOMENT_PREFIX) for c in results.columns if c.startswith(MOMENT_PREFIX))
    table = analyze(results, np.asarray(stored["rows"], dtype=float), keys, sample,
                    [MOMENT_PREFIX + m for m in names], seed=sample.seed)
    table["moment"] = table["moment"].str.removeprefix(MOMENT_PREFIX)
    return table, write_outputs(table, sample, out_dir)
