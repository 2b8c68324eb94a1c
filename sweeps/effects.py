"""Effects of region shocks: each shocked point against the unshocked point of its cell.

A sweep with ``shocks`` solves each shocked economy as a steady state of its
own, and stores its moments like any other point's. What an economist reports
is the change the shock causes: the shocked location's population and welfare
against the unshocked economy with the same axis values. That comparison needs
two rows of the store, so it is made here, in the sweep layer, from stored
rows (a pure function: resumed, re-run or partly failed sweeps give the same
columns), not by the model's ``region_shock`` hook, which only builds the
shocked params.

:func:`add_shock_effects` adds, for every shocked row whose unshocked sibling
(same values on every axis, shock 'none') solved, relative changes
(new / old - 1; -0.01 is -1%) as moment columns:

==========================  ==================================================
``welfare_change``          aggregate newborn welfare, consumption equivalent
                            (moment ``welfare_ce``)
``shock_population_change`` population of the shocked location
                            (``l_population_share`` at the shocked location)
``shock_welfare_change``    newborn welfare in the shocked location,
                            consumption equivalent (``l_welfare_ce``)
``shock_consumption_change`` real consumption per resident there
                            (``l_consumption_pc``)
==========================  ==================================================

and, for maps, the same changes at every location as list columns
``l_population_change`` and ``l_welfare_change``. Unshocked rows, and shocked
rows whose sibling is missing or failed, get nan. A column is added only when
the stored rows carry its source (models without ``welfare_ce`` or
``by_location()`` get fewer).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hetspace.core.moment_info import MomentInfo

from .actors import Status
from .store import LOCATION_PREFIX, MOMENT_PREFIX

#: effect moment -> (stored column, True: taken at the shocked location)
EFFECTS = {
    "welfare_change": (MOMENT_PREFIX + "welfare_ce", False),
    "shock_population_change": (LOCATION_PREFIX + "population_share", True),
    "shock_welfare_change": (LOCATION_PREFIX + "welfare_ce", True),
    "shock_consumption_change": (LOCATION_PREFIX + "consumption_pc", True),
}
#: labels and display units of the effects (relative changes shown in %)
EFFECT_INFO = {
    "welfare_change": MomentInfo("Welfare change, all newborns", "CE %", "percent"),
    "shock_population_change": MomentInfo("Population change, shocked location", "%",
                                          "percent"),
    "shock_welfare_change": MomentInfo("Welfare change, shocked location", "CE %", "percent"),
    "shock_consumption_change": MomentInfo("Consumption change, shocked location", "%",
                                           "percent"),
    "shock": MomentInfo("Region shock"),
}
#: list column of changes at every location -> stored list column
LOCATION_EFFECTS = {
    "population_change": LOCATION_PREFIX + "population_share",
    "welfare_change": LOCATION_PREFIX + "welfare_ce",
}


def add_shock_effects(df: pd.DataFrame, axes: Sequence[str]) -> pd.DataFrame:
    """``df`` with the effect columns of the module docstring (a copy; ``df`` unchanged).

    ``axes``: the swept Params fields (not 'shock'); rows are siblings when they
    agree on all of them. Without shocked rows ``df`` comes back as it is.
    """
    if "shock" not in df or not (df["shock"] != "none").any():
        return df
    axes = [a for a in axes if a in df and a != "shock"]
    cells = _cell_keys(df, axes)
    base_rows = df.index[(df["shock"] == "none") & (df["status"] == Status.OK)]
    base = {cells[i]: i for i in base_rows}
    sibling = [None if shock == "none" or status != Status.OK else base.get(cells[i])
               for i, shock, status in zip(df.index, df["shock"], df["status"], strict=True)]
    out = df.copy()
    for name, (source, at_location) in EFFECTS.items():
        if source not in df:
            continue
        out[MOMENT_PREFIX + name] = [
            np.nan if j is None else _change(df.at[i, source], df.at[j, source],
                                            df.at[i, "shock_location"] if at_location else None)
            for i, j in zip(df.index, sibling, strict=True)]
    for name, source in LOCATION_EFFECTS.items():
        if source in df:
            out[LOCATION_PREFIX + name] = [
                None if j is None else list(np.asarray(df.at[i, source], dtype=float)
                                            / np.asarray(df.at[j, source], dtype=float) - 1.0)
                for i, j in zip(df.index, sibling, strict=True)]
    return out


def effect_names() -> tuple[str, ...]:
    """The moments :func:`add_shock_effects` may add."""
    return tuple(EFFECTS)


def _cell_keys(df: pd.DataFrame, axes: list[str]) -> dict:
    """Row index -> the tuple of its axis values (nan-safe: values as their repr)."""
    return {i: tuple(repr(df.at[i, a]) for a in axes) for i in df.index}


def _change(new, old, location) -> float:
    if location is not None:
        if new is None or old is None or location != location:
            return np.nan
        j = int(float(location))
        new, old = np.asarray(new, dtype=float)[j], np.asarray(old, dtype=float)[j]
    new, old = float(new), float(old)
    return new / old - 1.0 if old != 0.0 else np.nan
