"""What a number means: label, unit and display transform of a moment or a parameter.

A model defines its moments once (``core/<model>/moments.py``) and, next to
them, a registry ``{name: MomentInfo}`` that tables, plots and reports read to
show a number in the unit a reader expects::

    MOMENT_INFO = {
        "r": MomentInfo("Interest rate", "annual %", "annual_percent"),
        "out_migration_rate": MomentInfo("Out-migration rate", "%", "percent"),
        "mpc_mean": MomentInfo("Mean MPC", "per period"),
    }

The stored value never changes (moments stay in model units, the names and
values that estimation targets use); only its display does. Transforms:

=================  ==========================================  ====================
transform          display value                               for
=================  ==========================================  ====================
``identity``       x                                           levels, ratios
``percent``        100 x                                       shares, rates of one
                                                               period that is a year
``annual_percent`` 100 ((1 + x)^periods_per_year - 1)          per-period rates
``log10``          log10 x                                     errors, tolerances
=================  ==========================================  ====================

``periods_per_year`` (how many model periods make a year: 6 for Huggett's
two-month period) comes from whoever displays (a sweep spec's ``display``);
with 1 an annual rate shows as a plain percentage.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping

TRANSFORMS = ("identity", "percent", "annual_percent", "log10")


@dataclasses.dataclass(frozen=True, slots=True)
class MomentInfo:
    """label: what it is, in words ("Interest rate"); unit: the unit of the displayed
    value ("annual %"; "" for none); transform: one of ``TRANSFORMS`` (module doc)."""

    label: str
    unit: str = ""
    transform: str = "identity"

    def __post_init__(self) -> None:
        if self.transform not in TRANSFORMS:
            raise ValueError(f"MomentInfo.transform must be one of {TRANSFORMS}, "
                             f"got {self.transform!r}")
        if not isinstance(self.label, str) or not self.label.strip():
            raise ValueError(f"MomentInfo.label must be a non-empty string, got {self.label!r}")

    def display(self, value: float, periods_per_year: float = 1.0) -> float:
        """``value`` in the display unit (nan stays nan; a value the transform cannot
        take, such as log10 of a negative number, becomes nan)."""
        x = float(value)
        if math.isnan(x) or self.transform == "identity":
            return x
        if self.transform == "percent":
            return 100.0 * x
        if self.transform == "annual_percent":
            check_periods_per_year(periods_per_year)
            return 100.0 * ((1.0 + x) ** periods_per_year - 1.0) if x > -1.0 else math.nan
        return math.log10(x) if x > 0.0 else math.nan

    def header(self) -> str:
        """"Interest rate (annual %)": the label, with the unit if there is one."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


def describe(name: str, *registries: Mapping[str, MomentInfo] | None) -> MomentInfo:
    """The first registry's entry for ``name``; for ``<base>_t<h>`` (a statistic at
    period h of a transition) the entry of ``<base>`` with "t = h" added to its label;
    a plain one (label = name) if none has it."""
    for registry in registries:
        if registry and name in registry:
            return registry[name]
    period = _AT_PERIOD.match(name)
    if period is not None:
        base = describe(period[1], *registries)
        if base.label != period[1]:
            return dataclasses.replace(base, label=f"{base.label}, t = {period[2]}")
    return MomentInfo(name)


_AT_PERIOD = re.compile(r"^(.+)_t(\d+)$")


def check_periods_per_year(value: float) -> float:
    """``value`` if it is a number > 0 (model periods per year); ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not (math.isfinite(value) and value > 0):
        raise ValueError(f"periods_per_year must be a number > 0, got {value!r}")
    return float(value)
