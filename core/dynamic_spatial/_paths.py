"""Views shared by the Part A (``result``) and CDP (``cdp_result``) path results.

Mixins with empty ``__slots__``, so the frozen, slotted result dataclasses stay slotted. Time
is the first axis: a path is (T+1, ...), its time changes and hats of dots are (T, ...).
"""

from __future__ import annotations

import numpy as np


def step_ratio(x: np.ndarray) -> np.ndarray:
    """(T, ...) x_t / x_{t-1} of a (T+1, ...) path."""
    return x[1:] / x[:-1]


class TimeChanges:
    """Time changes x-dot_t = x_t / x_{t-1} of the stored paths ``w``, ``P_rel`` and ``V_rel``."""

    __slots__ = ()

    @property
    def w_dot(self) -> np.ndarray:
        return step_ratio(self.w)

    @property
    def P_dot(self) -> np.ndarray:
        return step_ratio(self.P_rel)

    @property
    def u_dot(self) -> np.ndarray:
        """(T, ...) u-dot_t = exp(V_t - V_{t-1}), t = 1..T."""
        return np.exp(np.diff(self.V_rel, axis=0))


class HatsOfDots:
    """Hats of dots x-hat_t = x-dot'_t / x-dot_t of a counterfactual (needs ``w_ratio``,
    ``P_ratio``, ``V_diff``, ``L``, ``L_base`` and ``beta``)."""

    __slots__ = ()

    @property
    def w_hat(self) -> np.ndarray:
        return step_ratio(self.w_ratio)

    @property
    def P_hat(self) -> np.ndarray:
        return step_ratio(self.P_ratio)

    @property
    def u_hat(self) -> np.ndarray:
        return np.exp(np.diff(self.V_diff, axis=0))

    @property
    def L_hat(self) -> np.ndarray:
        return step_ratio(self.L / self.L_base)

    @property
    def welfare_ce(self) -> np.ndarray:
        """Consumption-equivalent welfare change of the period-0 residents of each region
        (Part A, (N,)) or market (CDP, (N, S)): exp((1 - beta)(V'_0 - V_0)) - 1, where
        V'_0 - V_0 = log u-hat cumulated."""
        return np.exp((1.0 - self.beta) * self.V_diff[0]) - 1.0
