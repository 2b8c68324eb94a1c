"""A sweep's axes as objects: each kind of spec section that varies Params fields is
one :class:`Design` class, and each way of writing an axis's values is one entry of
``SPACINGS``.

A design holds its axes' ``columns`` (axis -> the values it takes) and its cells
(``len(design)``; ``indices(i)``: axis -> position in its column). The sweep's
cells are the product of its designs' cells, in spec order (``cells``): a
``grid`` is the Cartesian product of its columns; a ``zip`` moves its columns
together, one cell per row; a ``sample`` is a zip whose rows a seeded design
draws (Sobol, Morris or Latin hypercube over bounded fields:
:mod:`hetspace.sweeps.sensitivity`). Points then get normalised coordinates from
their position in each column (:func:`~hetspace.sweeps.points.expand_points`), so
chains and warm starts work the same on every kind: a nearest-neighbour tour.

A new kind is one subclass of :class:`Design` with its ``key`` (the spec section,
which becomes a key a spec may have), ``parse`` (the section's body to a design, or
None after reporting problems), ``__len__`` and ``indices``, added to ``DESIGNS``.
Axis values are written as a list or as a range, ``{linspace: [start, stop, num]}``
or ``{geomspace: ...}`` (``SPACINGS``: name -> (check, make)).
"""

from __future__ import annotations

import abc
import dataclasses
import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from hetspace.core.config import did_you_mean

from .sensitivity import SAMPLE_KEYS, Sample, parse_sample

Report = Callable[[tuple, str], None]


@dataclasses.dataclass(frozen=True, slots=True)
class Fields:
    """The names an axis may take (``points.axis_fields``) and whose Params they are."""

    names: tuple[str, ...]
    owner: str


def _geomspace_ok(spec: Sequence[float]) -> str | None:
    return None if spec[0] * spec[1] > 0 else (
        f"start and stop must be nonzero and of one sign, got {list(spec)!r}")


#: ways to write an axis's values besides a list: name -> (extra check of [start, stop,
#: num], returning a problem or None; the function making the values)
SPACINGS: dict[str, tuple[Callable[[Sequence[float]], str | None], Callable[..., Any]]] = {
    "linspace": (lambda spec: None, np.linspace),
    "geomspace": (_geomspace_ok, np.geomspace),
}


def same(v: Any) -> tuple:
    """What makes two axis values the same point: numbers as numbers (2 == 2.0)."""
    return ("number", float(v)) if isinstance(v, int | float) and not isinstance(
        v, bool) else (type(v).__name__, repr(v))


class Design(abc.ABC):
    """A section of a spec that varies Params fields (module docstring)."""

    key: ClassVar[str]
    #: the keys the section may have (None: any; a grid's and a zip's are Params fields)
    section_keys: ClassVar[tuple[str, ...] | None] = None
    #: whether the section must be the spec's only design (a sample's rows are its cells)
    alone: ClassVar[bool] = False

    def __init__(self, columns: Mapping[str, tuple]):
        self.columns = dict(columns)

    @classmethod
    @abc.abstractmethod
    def parse(cls, body: Any, fields: Fields | None, seed: int,
              report: Report) -> Design | None:
        """The section's ``body`` as a design; problems go to ``report(path, text)``."""

    @abc.abstractmethod
    def __len__(self) -> int:
        """The number of cells."""

    @abc.abstractmethod
    def indices(self, i: int) -> dict[str, int]:
        """Cell ``i``: axis -> the position of its value in ``columns[axis]``."""

    def sizes(self) -> list[int]:
        """The factors of ``len(self)`` (for an error message)."""
        return [len(self)]


class Grid(Design):
    """``grid``: the Cartesian product of its axes' values."""

    key = "grid"

    @classmethod
    def parse(cls, body, fields, seed, report):
        columns = _columns(body, cls.key, fields, report)
        for axis, values in columns.items():
            twice = _repeated(values)
            if twice:
                report((cls.key, axis), f"has repeated values {twice} in {list(values)!r} "
                       "(each would be the same point)")
        return cls(columns) if columns else None

    def __len__(self) -> int:
        return math.prod(len(v) for v in self.columns.values())

    def indices(self, i: int) -> dict[str, int]:
        shape = [len(v) for v in self.columns.values()]
        return dict(zip(self.columns, map(int, np.unravel_index(i, shape)), strict=True))

    def sizes(self) -> list[int]:
        return [len(v) for v in self.columns.values()]


class Zip(Design):
    """``zip``: lists of equal length that move together, one cell per row. One axis may
    repeat a value (scenarios that each change one field share the others'); a whole
    row may not."""

    key = "zip"

    @classmethod
    def parse(cls, body, fields, seed, report):
        columns = _columns(body, cls.key, fields, report)
        lengths = {axis: len(v) for axis, v in columns.items()}
        if len(set(lengths.values())) > 1:
            report((cls.key,), f"lists must have equal lengths, got {lengths}")
            return None
        seen: dict[tuple, int] = {}
        for i, row in enumerate(zip(*columns.values(), strict=True)):
            key = tuple(same(v) for v in row)
            if key in seen:
                values = ", ".join(f"{a}={v!r}" for a, v in zip(columns, row, strict=True))
                report((cls.key,), f"row {i} ({values}) repeats row {seen[key]}: it would "
                       "be the same point")
            seen.setdefault(key, i)
        return cls(columns) if columns else None

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def indices(self, i: int) -> dict[str, int]:
        return dict.fromkeys(self.columns, i)


class Sampled(Zip):
    """``sample``: a zip whose rows a seeded design draws (``sample``, a
    :class:`~hetspace.sweeps.sensitivity.Sample`, which the sensitivity analysis reads)."""

    key = "sample"
    section_keys = SAMPLE_KEYS
    alone = True

    def __init__(self, columns: Mapping[str, tuple], sample: Sample):
        super().__init__(columns)
        self.sample = sample

    @classmethod
    def parse(cls, body, fields, seed, report):
        problems: list[tuple] = []

        def noted(path: tuple, text: str) -> None:
            problems.append(path)
            report(path, text)

        sample = parse_sample(body, None if fields is None else fields.names, seed, noted)
        if sample is None or problems:  # no draws from a design with problems
            return None
        rows = sample.rows()
        return cls({name: tuple(float(x) for x in column)
                    for name, column in zip(sample.names, rows.T, strict=True)}, sample)


#: the sections that vary Params fields, in the order their cells combine
DESIGNS: tuple[type[Design], ...] = (Grid, Zip, Sampled)


def parse_designs(data: Mapping[str, Any], fields: Fields | None, seed: int,
                  report: Report) -> tuple[Design, ...]:
    """The spec's designs (``data``: the whole spec), checked against each other."""
    designs = []
    for cls in DESIGNS:
        if cls.key in data:
            design = cls.parse(data[cls.key], fields, seed, report)
            if design is not None:
                designs.append(design)
    present = [cls.key for cls in DESIGNS if cls.key in data]
    for cls in DESIGNS:
        if cls.alone and cls.key in data:
            for other in present:
                if other != cls.key:
                    report((cls.key,), f"cannot be combined with {other}: the design's rows "
                           "are the sweep's cells (one sensitivity analysis per sweep)")
    seen: dict[str, str] = {}
    for design in designs:
        for axis in design.columns:
            if axis in seen:
                report((design.key, axis), f"is already a {seen[axis]} axis")
            seen.setdefault(axis, design.key)
    return tuple(designs)


def cells(designs: Sequence[Design]) -> Iterator[tuple[dict[str, tuple[str, int]],
                                                          dict[str, Any]]]:
    """(where, values) of every cell in spec order: ``where[axis]`` = (section, position
    of the value in its column); ``values[axis]`` = the value."""
    for combo in itertools.product(*(range(len(d)) for d in designs)):
        where: dict[str, tuple[str, int]] = {}
        values: dict[str, Any] = {}
        for design, i in zip(designs, combo, strict=True):
            for axis, j in design.indices(i).items():
                where[axis] = (design.key, j)
                values[axis] = design.columns[axis][j]
        yield where, values


def column(designs: Sequence[Design], axis: str) -> tuple:
    """The values of ``axis`` (its design's column)."""
    return next(d.columns[axis] for d in designs if axis in d.columns)


def _columns(body: Any, key: str, fields: Fields | None, report: Report) -> dict[str, tuple]:
    """A grid's or zip's mapping of axis -> values, checked."""
    if not isinstance(body, Mapping) or not body:
        what = f"nothing (an empty '{key}:')" if body is None else repr(body)
        report((key,), f"must be a non-empty mapping of Params field: [values], got {what}")
        return {}
    columns = {}
    for axis, values in body.items():
        if fields is not None and axis not in fields.names:
            report((key, axis), f"is not a field of {fields.owner} Params"
                   f"{did_you_mean(str(axis), fields.names)}; fields: {', '.join(fields.names)}")
            continue
        if isinstance(values, Mapping):
            values = _spaced(values, (key, axis), report)
            if values is None:
                continue
        if not isinstance(values, (list, tuple)) or not values:
            report((key, axis), f"must be a non-empty list of values or a range "
                   f"({{linspace: [start, stop, num]}} or geomspace), got {values!r}")
            continue
        for i, v in enumerate(values):
            if not isinstance(v, (int, float, str, bool)):
                report((key, axis, i), f"must be a number, string or bool, got {v!r}")
        columns[axis] = tuple(values)
    return columns


def _spaced(body: Mapping, path: tuple, report: Report) -> tuple[float, ...] | None:
    """``{linspace: [start, stop, num]}`` (evenly spaced, both ends included) or
    ``{geomspace: [start, stop, num]}`` (evenly spaced logarithms; start and stop of
    one sign, not zero) as the axis values."""
    if len(body) != 1 or next(iter(body)) not in SPACINGS:
        report(path, f"a range must be one of {{linspace: [start, stop, num]}} or "
               f"{{geomspace: [start, stop, num]}}, got {dict(body)!r}")
        return None
    kind, spec = next(iter(body.items()))
    check, make = SPACINGS[kind]
    ok = (isinstance(spec, (list, tuple)) and len(spec) == 3
          and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                  and math.isfinite(x) for x in spec[:2])
          and isinstance(spec[2], int) and not isinstance(spec[2], bool) and spec[2] >= 2)
    problem = check(spec) if ok else None
    if problem:
        report((*path, kind), problem)
        return None
    if not ok or spec[0] == spec[1]:
        report((*path, kind), f"must be [start, stop, num] with start != stop and an "
               f"integer num >= 2, got {spec!r}")
        return None
    return tuple(float(x) for x in make(spec[0], spec[1], spec[2]))


def _repeated(values: Sequence[Any]) -> str:
    """The values that occur more than once, numbers compared as numbers (2 == 2.0)."""
    seen: dict[Any, Any] = {}
    twice = []
    for v in values:
        key = same(v)
        if key in seen and seen[key] not in twice:
            twice.append(seen[key])
        seen.setdefault(key, v)
    return ", ".join(repr(v) for v in twice)
