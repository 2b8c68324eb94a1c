"""Free parameters: bounds and the coordinates the optimisers search in.

A parameter x in [lower, upper] is searched as z = T(x): ``none`` z = x,
``log`` z = log x (lower > 0; for scale parameters), ``logit`` z = log(x / (1 - x))
(0 < lower < upper < 1; for discount factors and probabilities, where the
interesting variation is close to one). Optuna samples z uniformly in
[T(lower), T(upper)], least squares moves in z, and standard errors are
reported for x (the Jacobian is taken in x).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

TRANSFORMS = ("none", "log", "logit")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Parameter:
    """A free Params field with bounds and a search transform."""

    name: str
    lower: float
    upper: float
    transform: str = "none"

    @classmethod
    def from_mapping(cls, name: str, entry: Any) -> Parameter:
        """From ``{lower, upper, transform}`` or ``[lower, upper]``; ValueError says why not."""
        if isinstance(entry, (list, tuple)) and len(entry) == 2:
            entry = {"lower": entry[0], "upper": entry[1]}
        if not isinstance(entry, Mapping):
            raise ValueError("must be {lower, upper, transform} or [lower, upper], "
                             f"got {entry!r}")
        unknown = sorted(set(entry) - {"lower", "upper", "transform"})
        if unknown:
            raise ValueError(f"unknown keys {unknown}; known keys: lower, upper, transform")
        lo, hi = entry.get("lower"), entry.get("upper")
        for which, v in (("lower", lo), ("upper", hi)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"{which} must be a finite number, got {v!r}")
        if not lo < hi:
            raise ValueError(f"lower must be < upper, got [{lo}, {hi}]")
        transform = entry.get("transform", "none")
        if transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {', '.join(TRANSFORMS)}, got {transform!r}")
        if transform == "log" and lo <= 0:
            raise ValueError(f"transform log needs lower > 0, got {lo}")
        if transform == "logit" and not (0 < lo and hi < 1):
            raise ValueError(f"transform logit needs 0 < lower < upper < 1, got [{lo}, {hi}]")
        return cls(name=name, lower=float(lo), upper=float(hi), transform=transform)

    def to_z(self, x: float) -> float:
        if self.transform == "log":
            return math.log(x)
        if self.transform == "logit":
            return math.log(x / (1.0 - x))
        return float(x)

    def from_z(self, z: float) -> float:
        if self.transform == "log":
            x = math.exp(z)
        elif self.transform == "logit":
            x = 1.0 / (1.0 + math.exp(-z))
        else:
            x = float(z)
        return min(max(x, self.lower), self.upper)  # rounding never leaves the box

    @property
    def z_bounds(self) -> tuple[float, float]:
        return self.to_z(self.lower), self.to_z(self.upper)


def to_z(parameters: Sequence[Parameter], x: Sequence[float]) -> np.ndarray:
    return np.array([p.to_z(v) for p, v in zip(parameters, x, strict=True)])


def from_z(parameters: Sequence[Parameter], z: Sequence[float]) -> np.ndarray:
    return np.array([p.from_z(v) for p, v in zip(parameters, z, strict=True)])


def unit(parameters: Sequence[Parameter], x: Sequence[float]) -> np.ndarray:
    """Position of natural values x in the search box, each coordinate in [0, 1]."""
    z = to_z(parameters, x)
    lo, hi = np.array([p.z_bounds for p in parameters]).T
    return (z - lo) / (hi - lo)
