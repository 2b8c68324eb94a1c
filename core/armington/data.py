"""Observed baseline data for exact hat algebra: trade flows (and labour for migration)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse.csgraph import connected_components

from ..errors import Described
from ..protocol import Record
from ..validation import Checker


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class TradeData(Record):
    """Baseline flows ``X[i, j]`` from origin i to destination j, and labour ``L``.

    Income Y_i = sum_j X[i, j] (sales) must equal expenditure E_i = sum_k X[k, i]
    (the Armington equilibrium has balanced trade) within ``balance_rtol``.
    Every region must sell and buy something (its shares are needed), and the
    regions must form one trading block (otherwise relative wages across blocks
    are not determined). ``L`` is needed only with migration; its sum is the
    fixed total.
    """

    X: np.ndarray
    L: np.ndarray | None = None
    balance_rtol: float = 1e-6

    def __post_init__(self) -> None:
        check = Checker(type(self).__name__)
        X = check.array(self, "X", ndim=2, ge=0.0)
        if X is not None:
            check.require(
                X.shape[0] == X.shape[1],
                "X",
                "must be square (N, N)",
                Described(f"shape {X.shape}"),
            )
        n = None if X is None else X.shape[0]
        check.array(self, "L", ndim=1, shape=None if n is None else (n,), gt=0.0, optional=True)
        rtol = check.scalar(self, "balance_rtol", gt=0.0)
        if X is not None and X.shape[0] == X.shape[1]:
            _check_flows(check, X, rtol)
        check.done()

    @classmethod
    def from_shares(cls, lam, Y, L=None, balance_rtol: float = 1e-6) -> TradeData:
        """Build from expenditure shares ``lam[i, j]`` (columns sum to one) and income ``Y``."""
        check = Checker(cls.__name__)
        lam_a = check.check_array(lam, "lam", ndim=2, ge=0.0, le=1.0)
        y = check.check_array(Y, "Y", ndim=1, gt=0.0)
        if lam_a is not None and y is not None:
            ok = check.require(
                lam_a.shape == (y.shape[0], y.shape[0]),
                "lam",
                f"must have shape ({y.shape[0]}, {y.shape[0]}) to match Y",
                Described(f"shape {lam_a.shape}"),
            )
            if ok:
                sums = lam_a.sum(axis=0)
                bad = np.abs(sums - 1.0) > 1e-8
                if bad.any():
                    j = int(np.argmax(bad))
                    check.fail(f"lam[:, {j}]", "columns must sum to one", float(sums[j]))
        check.done()
        return cls(X=lam_a * y[None, :], L=L, balance_rtol=balance_rtol)

    @property
    def income(self) -> np.ndarray:
        return self.X.sum(axis=1)

    @property
    def shares(self) -> np.ndarray:
        return self.X / self.X.sum(axis=0)[None, :]


def _check_flows(check: Checker, X: np.ndarray, rtol: float | None) -> None:
    sales, spending = X.sum(axis=1), X.sum(axis=0)
    for name, totals in (("row", sales), ("column", spending)):
        zero = np.flatnonzero(totals <= 0)
        if zero.size:
            idx = int(zero[0])
            where = f"X[{idx}, :]" if name == "row" else f"X[:, {idx}]"
            check.fail(
                where,
                f"{name} sums must be positive (a region's "
                f"{'income' if name == 'row' else 'expenditure'} is needed for its shares)",
                float(totals[idx]),
            )
            return
    if rtol is not None:
        gap = np.abs(sales - spending) / np.maximum(sales, spending)
        if np.any(gap > rtol):
            i = int(np.argmax(gap))
            check.fail(
                f"X[{i}]",
                "trade must be balanced: income sum_j X[i, j] must equal "
                f"expenditure sum_k X[k, i] within balance_rtol={rtol:g} (the model has "
                "no deficits)",
                Described(f"income {sales[i]:.6g} vs expenditure {spending[i]:.6g}"),
            )
    n_blocks, _ = connected_components(X > 0, directed=True, connection="strong")
    check.require(
        n_blocks == 1,
        "X",
        "regions must form one trading block (flows strongly "
        "connected); relative wages across blocks are not determined",
        Described(f"{n_blocks} blocks"),
    )
