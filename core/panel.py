"""A household panel in arrays: what a model's ``ModelSpec.panel`` hook simulates and what
a data panel file holds, so that one statistics function serves both (estimation's
``simulation.statistics``: panel moments, auxiliary regressions)."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True, slots=True)
class PanelArrays:
    """A household panel, arrays of axes (n_periods, n_households).

    consumption: real consumption; income: labour income (model units); assets: assets
    at the start of the period; at_limit: savings at the borrowing limit; location:
    location index (None when not recorded).
    """

    consumption: np.ndarray
    income: np.ndarray
    assets: np.ndarray
    at_limit: np.ndarray
    location: np.ndarray | None = None

    def after(self, burn_in: int) -> PanelArrays:
        """The panel without its first ``burn_in`` periods."""
        if burn_in <= 0:
            return self
        return PanelArrays(**{f.name: None if getattr(self, f.name) is None
                              else getattr(self, f.name)[burn_in:]
                              for f in dataclasses.fields(self)})
