"""Collect every violated condition of a parameter object, then raise once.

Usage inside ``__post_init__``::

    check = Checker(type(self).__name__)
    sigma = check.scalar(self, "sigma", gt=1.0)
    tau = check.array(self, "tau", ndim=2, ge=1.0)
    check.done()          # raises InvalidParamsError listing all violations

Arrays are converted to read-only float64 copies and written back onto the
(frozen) dataclass, so ``Params(tau=[[1, 2], [2, 1]])`` works from YAML lists.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import Described, InvalidParamsError, Violation


class Checker:
    """Accumulates violations for one object; ``done()`` raises if there are any."""

    def __init__(self, owner: str):
        self.owner = owner
        self.violations: list[Violation] = []

    def fail(self, field: str, message: str, value: Any = None) -> None:
        self.violations.append(Violation(field, message, value))

    def require(self, ok: bool, field: str, message: str, value: Any = None) -> bool:
        if not ok:
            self.fail(field, message, value)
        return ok

    def done(self) -> None:
        if self.violations:
            raise InvalidParamsError(self.owner, self.violations)

    def scalar(
        self, obj: Any, name: str, *, gt=None, ge=None, lt=None, le=None, integer: bool = False
    ) -> float | None:
        """Validate a finite real scalar attribute; coerce it to float (or int)."""
        raw = getattr(obj, name)
        value = self.check_scalar(raw, name, gt=gt, ge=ge, lt=lt, le=le, integer=integer)
        if value is not None:
            object.__setattr__(obj, name, value)
        return value

    def check_scalar(
        self, raw: Any, name: str, *, gt=None, ge=None, lt=None, le=None, integer: bool = False
    ) -> float | None:
        if isinstance(raw, bool) or not isinstance(raw, (int, float, np.integer, np.floating)):
            self.fail(name, "must be a real number", raw)
            return None
        try:
            value = int(raw) if integer else float(raw)
            finite = math.isfinite(value)
        except OverflowError:  # an integer beyond float range (10**400)
            value, finite = raw, False
        if integer and finite and value != raw:
            self.fail(name, "must be an integer", raw)
            return None
        if not finite:
            self.fail(name, "must be finite", raw)
            return None
        ok = _bounds_ok(self, name, np.asarray(value), gt, ge, lt, le)
        return value if ok else None

    def array(
        self,
        obj: Any,
        name: str,
        *,
        ndim: int | None = None,
        shape=None,
        gt=None,
        ge=None,
        lt=None,
        le=None,
        optional: bool = False,
    ) -> np.ndarray | None:
        """Validate a finite float64 array attribute and store a read-only copy back."""
        raw = getattr(obj, name)
        if raw is None:
            if not optional:
                self.fail(name, "is required", None)
            return None
        arr = self.check_array(raw, name, ndim=ndim, shape=shape, gt=gt, ge=ge, lt=lt, le=le)
        if arr is not None:
            object.__setattr__(obj, name, arr)
        return arr

    def check_array(
        self, raw: Any, name: str, *, ndim=None, shape=None, gt=None, ge=None, lt=None, le=None
    ) -> np.ndarray | None:
        try:
            arr = np.array(raw, dtype=np.float64, copy=True)
        except (TypeError, ValueError, OverflowError):
            self.fail(name, "must be an array of real numbers", raw)
            return None
        if ndim is not None and arr.ndim != ndim:
            self.fail(name, f"must be {ndim}-dimensional", Described(f"shape {arr.shape}"))
            return None
        if shape is not None and arr.shape != tuple(shape):
            self.fail(name, f"must have shape {tuple(shape)}", Described(f"shape {arr.shape}"))
            return None
        bad = ~np.isfinite(arr)
        if bad.any():
            idx = _first_index(bad)
            self.fail(f"{name}{idx}", "must be finite", arr[tuple(np.argwhere(bad)[0])])
            return None
        if not _bounds_ok(self, name, arr, gt, ge, lt, le):
            return None
        arr.setflags(write=False)
        return arr


def _bounds_ok(check: Checker, name: str, arr: np.ndarray, gt, ge, lt, le) -> bool:
    tests = (
        (gt, lambda a, b: a > b, "> "),
        (ge, lambda a, b: a >= b, ">= "),
        (lt, lambda a, b: a < b, "< "),
        (le, lambda a, b: a <= b, "<= "),
    )
    for bound, op, text in tests:
        if bound is None:
            continue
        bad = ~op(arr, bound)
        if np.any(bad):
            where = _first_index(bad) if arr.ndim else ""
            value = arr[tuple(np.argwhere(bad)[0])] if arr.ndim else arr.item()
            count = int(np.sum(bad))
            more = f" ({count} entries)" if count > 1 else ""
            check.fail(f"{name}{where}", f"must be {text}{bound:g}{more}", _plain(value))
            return False
    return True


def _first_index(mask: np.ndarray) -> str:
    if mask.ndim == 0:
        return ""
    first = np.argwhere(mask)[0]
    return "[" + ", ".join(str(int(i)) for i in first) + "]"


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
