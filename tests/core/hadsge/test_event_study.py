"""hadsge event study (section 4.1, Figure 2): seeded simulation and the regressions."""

import numpy as np
import pytest

from hetspace.core import InvalidParamsError
from hetspace.core.hadsge import example_params
from hetspace.core.hadsge.event_study import event_study, plot_event_study

N = 20_000


def test_no_shock_gives_no_effect_and_identical_employment():
    """drop = 0: the shocked and baseline economies coincide, so with the same draws
    employment paths are identical and b1 is zero up to sampling (4 s.e.)."""
    es = event_study(example_params(), drop=0.0, n_agents=N, seed=3)
    np.testing.assert_array_equal(es.employment, es.employment_base)
    assert np.all(np.abs(es.b_earnings) < 4 * es.se_earnings)
    assert np.all(np.abs(es.b_assets) < 4 * es.se_assets)


def test_a_100bp_fall_lowers_exposed_earnings_more_and_more():
    """Figure 2's earnings pattern: b1 < 0 at every horizon from 2 (beyond 3 s.e.) and
    falling; employment in the shocked industry contracts below its no-shock path."""
    es = event_study(example_params(), n_agents=N, seed=5)
    assert np.all(es.b_earnings[1:] + 3 * es.se_earnings[1:] < 0)
    assert np.all(np.diff(es.b_earnings) < 0)
    assert np.all(es.employment[2:] < es.employment_base[2:] - 0.05)
    np.testing.assert_array_equal(es.employment[0], es.employment_base[0])


def test_event_study_is_reproducible_and_validated(tmp_path):
    a = event_study(example_params(n_ages=4), n_agents=500, seed=11)
    b = event_study(example_params(n_ages=4), n_agents=500, seed=11)
    np.testing.assert_array_equal(a.b_assets, b.b_assets)
    assert a.horizons.tolist() == [1, 2, 3]
    plot_event_study(a, tmp_path / "fig2.png")
    assert (tmp_path / "fig2.png").stat().st_size > 0
    with pytest.raises(InvalidParamsError, match="market: must be an integer in"):
        event_study(example_params(), market=3)


def test_market_shock_scales_both_returns_of_one_market():
    """The registered region shock (sweeps' shocks axis): w and r of one market times
    1 + size; a symmetric economy then loses workers from that market."""
    from hetspace.core import get_model

    model = get_model("hadsge")
    p = model.region_shock(example_params(), 1, -0.01)
    np.testing.assert_allclose(p.w, np.exp(0.1) * np.array([1, 0.99, 1]), rtol=1e-15)
    np.testing.assert_allclose(p.r, np.exp(0.07) * np.array([1, 0.99, 1]), rtol=1e-15)
    lam = model.solve(p).aggregates.Lambda[-1]
    assert lam[1] < lam[0] and np.isclose(lam[0], lam[2])
    with pytest.raises(InvalidParamsError, match="location: must be a market index"):
        model.region_shock(example_params(), 5, -0.01)
    with pytest.raises(InvalidParamsError, match="size: must be a number > -1"):
        model.region_shock(example_params(), 0, -1.0)
