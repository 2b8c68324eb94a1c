"""Names and coordinates of a spatial model's locations (for maps; no numerics use them).

A model config may name its locations, in the order of the params' location
axis, with their coordinates in degrees::

    locations:            # name: [latitude, longitude]
      CT: [41.6, -72.7]
      ME: [45.4, -69.2]

:func:`parse_locations` validates such a mapping once, at load, and reports
every problem by its path (``locations.CT[0]: must be in [-90, 90], got 141.6``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class Location:
    """One location: its name and centre (degrees north, degrees east)."""

    name: str
    lat: float
    lon: float

    def to_list(self) -> list[Any]:
        return [self.name, self.lat, self.lon]


def parse_locations(body: Any, path: str = "locations"
                    ) -> tuple[tuple[Location, ...], list[str]]:
    """(locations, problems) from a ``name: [lat, lon]`` mapping (or from a list of
    ``[name, lat, lon]`` as :meth:`Location.to_list` writes them)."""
    if isinstance(body, Sequence) and not isinstance(body, str):
        pairs = [(row[0], row[1:]) if isinstance(row, Sequence) and len(row) == 3
                 else (f"[{i}]", row) for i, row in enumerate(body)]
    elif isinstance(body, Mapping):
        pairs = list(body.items())
    else:
        return (), [f"{path}: must be a mapping of name: [latitude, longitude], got {body!r}"]
    out, problems = [], []
    for name, coords in pairs:
        where = f"{path}.{name}"
        if not isinstance(coords, Sequence) or isinstance(coords, str) or len(coords) != 2:
            problems.append(f"{where}: must be [latitude, longitude], got {coords!r}")
            continue
        bad = [f"{where}[{k}]: must be a number in [-{limit}, {limit}], got {v!r}"
               for k, (v, limit) in enumerate(zip(coords, (90, 180), strict=True))
               if not _number(v) or abs(float(v)) > limit]
        problems += bad
        if not bad:
            out.append(Location(str(name), float(coords[0]), float(coords[1])))
    if not pairs:
        problems.append(f"{path}: names no location")
    return tuple(out), problems


def check_count(locations: Sequence[Location], n: int | None, path: str = "locations"
                ) -> list[str]:
    """A problem if there are locations and their number is not ``n`` (None: unknown)."""
    if not locations or n is None or len(locations) == n:
        return []
    return [f"{path}: names {len(locations)} locations, the params have {n}"]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) \
        and math.isfinite(float(value))
