"""How a sweep's numbers are shown: labels, units, display transforms, significant digits.

:class:`Display` bundles what tables and plots need to show a stored value the
way a reader expects: the model's ``moment_info`` and ``param_info`` registries
(:mod:`hetspace.core.moment_info`), the effects of region shocks
(:data:`~hetspace.sweeps.effects.EFFECT_INFO`) and the number of model periods
per year (a spec's ``display.periods_per_year``). Stored results never change;
only what is printed does.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from hetspace.core.moment_info import MomentInfo, check_periods_per_year, describe

from .effects import EFFECT_INFO

#: significant digits of a displayed number
DIGITS = 4


@dataclasses.dataclass(frozen=True, slots=True)
class Display:
    """moment_info / param_info: a model's registries (None: raw names);
    periods_per_year: model periods in a year (annual % of per-period rates)."""

    moment_info: Mapping[str, MomentInfo] | None = None
    param_info: Mapping[str, MomentInfo] | None = None
    periods_per_year: float = 1.0

    def __post_init__(self) -> None:
        check_periods_per_year(self.periods_per_year)

    @classmethod
    def for_model(cls, model: Any, periods_per_year: float = 1.0) -> Display:
        """The display of a registered model (its ``ModelSpec``)."""
        return cls(getattr(model, "moment_info", None), getattr(model, "param_info", None),
                   periods_per_year)

    def moment(self, name: str) -> MomentInfo:
        return describe(name, EFFECT_INFO, self.moment_info)

    def axis(self, name: str) -> MomentInfo:
        return describe(name, self.param_info, EFFECT_INFO)

    def value(self, name: str, value: Any) -> Any:
        """A stored moment value in its display unit (text such as 'failed' unchanged)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return value
        return self.moment(name).display(value, self.periods_per_year)


def format_number(value: Any, digits: int = DIGITS) -> str:
    """``value`` with ``digits`` significant digits, fixed-point from 1e-4 to 1e6, else
    scientific; nan as 'n/a'; text unchanged. 0.0342 -> '0.03420', -2.5759 -> '-2.576'."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    x = float(value)
    if math.isnan(x):
        return "n/a"
    if math.isinf(x) or x == 0.0:
        return "0" if x == 0.0 else str(x)
    magnitude = math.floor(math.log10(abs(float(f"{x:.{digits - 1}e}"))))
    if -4 <= magnitude < 6:
        return f"{x:.{max(0, digits - 1 - magnitude)}f}"
    return f"{x:.{digits - 1}e}"


def format_axis_value(value: Any) -> str:
    """An axis value as written in the spec (1.5, -0.6, 'loc 2 -0.01')."""
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:g}"
    return str(value)
