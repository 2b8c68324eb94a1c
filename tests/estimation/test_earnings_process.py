"""GMM of the Huggett-Kaplan earnings process (estimation/earnings_process.py, papers/004
section 3.1): the variance recursion against its closed sum, recovery of Table 1's
full-sample process from a simulated panel, and the panel's validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hetspace.core import InvalidParamsError
from hetspace.estimation import PanelError
from hetspace.estimation.earnings_process import (
    NAMES,
    EarningsProcess,
    estimate_earnings_process,
    make_panel,
    read_earnings_panel,
    simulate_earnings_panel,
    zeta_variance,
)


def test_zeta_variance_is_the_sum_over_past_regimes():
    # Var zeta_t = sum_{k=0}^{t-e} rho^(2k) s_eta^2(X_{t-k}) for a household entered in e
    theta = np.array([0.1, 0.9, 0.04, 0.07, 0.1])
    boom = np.array([True, False, False, True, True, False, True])
    V = zeta_variance(theta, boom)
    s2 = np.where(boom, 0.04, 0.07)
    for e in range(boom.size):
        for t in range(boom.size):
            expected = sum(0.81**k * s2[t - k] for k in range(t - e + 1)) if t >= e else 0.0
            assert V[e, t] == pytest.approx(expected, rel=1e-13, abs=0.0)


@pytest.fixture(scope="module")
def recovery():
    truth = EarningsProcess.from_table_1("full")  # Table 1, skewed innovations and v
    panel = simulate_earnings_panel(truth, n_households=6000, n_years=20, seed=7)
    return truth, estimate_earnings_process(panel, max_lag=5)


def test_gmm_recovers_table_1_process(recovery):
    # The panel's sampling error only: each estimate within 4 standard errors of the truth,
    # and the standard errors small enough to mean something. When written: within 2.2 se
    # (s_eta2_boom .027, se .005; se of rho .006); over 8 other seeds at 4,000 households
    # the z-scores had means -0.4..0.0 and standard deviations 1.0-1.3.
    truth, res = recovery
    assert res.converged and res.n_moments > 500
    for name in NAMES:
        est, se = res.estimates[name], res.se[name]
        assert np.isfinite(se) and se > 0.0, name
        assert abs(est - getattr(truth, name)) < 4.0 * se, (name, est, se)
    assert res.se["rho"] < 0.02
    assert res.se["s_xi2"] < 0.03 and res.se["s_v2"] < 0.02
    assert max(res.se["s_eta2_boom"], res.se["s_eta2_recession"]) < 0.015


def test_gmm_tells_regimes_apart():
    # With the recession variance three times the boom one (.12 vs .04), the estimates
    # are ordered and each within 4 se of its truth.
    truth = EarningsProcess(s_xi2=0.08, rho=0.9, s_eta2_boom=0.04, s_eta2_recession=0.12,
                            s_v2=0.1)
    panel = simulate_earnings_panel(truth, n_households=4000, n_years=15, seed=3)
    res = estimate_earnings_process(panel, max_lag=4)
    assert res.estimates["s_eta2_recession"] > res.estimates["s_eta2_boom"]
    for name in ("s_eta2_boom", "s_eta2_recession"):
        assert abs(res.estimates[name] - getattr(truth, name)) < 4.0 * res.se[name]


def test_panel_and_process_validation():
    u = np.zeros((3, 4))
    with pytest.raises(InvalidParamsError, match="entry: must be 3 integer year indices"):
        make_panel(u, np.array([0.0, 1.0, 2.0]), np.ones(4, dtype=bool))
    with pytest.raises(InvalidParamsError, match=r"entry: must be year indices in \[0, 3\]"):
        make_panel(u, np.array([0, 1, 4]), np.ones(4, dtype=bool))
    with pytest.raises(InvalidParamsError, match="u: is observed before a household's entry"):
        make_panel(u, np.array([0, 1, 2]), np.ones(4, dtype=bool))
    with pytest.raises(InvalidParamsError, match="boom: must be 4 booleans") as err:
        make_panel(np.full((3, 4), np.inf), np.array([0, 0, 0]), np.ones(3))
    assert "u: must be finite or NaN" in str(err.value)
    with pytest.raises(InvalidParamsError, match="rho") as err:
        EarningsProcess(s_xi2=0.1, rho=1.0, s_eta2_boom=0.0, s_eta2_recession=0.1, s_v2=0.1)
    assert "s_eta2_boom" in str(err.value)


def _files(tmp_path, panel, first_year=1960):
    """The tidy files of ``panel`` (years numbered from ``first_year``)."""
    rows = [(i, first_year + t, panel.u[i, t], first_year + int(panel.entry[i]))
            for i, t in zip(*np.nonzero(np.isfinite(panel.u)), strict=True)]
    frame = pd.DataFrame(rows, columns=["household", "year", "u", "entry_year"])
    regimes = pd.DataFrame({"year": first_year + np.arange(panel.boom.size),
                            "boom": panel.boom})
    frame.to_csv(tmp_path / "panel.csv", index=False)
    regimes.to_csv(tmp_path / "regimes.csv", index=False)
    return frame, regimes


def test_panel_files_round_trip(tmp_path):
    truth = EarningsProcess.from_table_1("full")
    panel = simulate_earnings_panel(truth, n_households=200, n_years=6, seed=1)
    _files(tmp_path, panel)
    back = read_earnings_panel(tmp_path / "panel.csv", tmp_path / "regimes.csv")
    # the read panel's years start at the first entry year of a household in the file
    seen = np.isfinite(panel.u).any(axis=1)
    start = int(panel.entry[seen].min())
    np.testing.assert_array_equal(back.entry, panel.entry[seen] - start)
    np.testing.assert_array_equal(back.boom, panel.boom[start:])
    np.testing.assert_allclose(back.u, panel.u[seen, start:], rtol=1e-15)


def test_panel_file_errors_name_the_problem(tmp_path):
    panel = simulate_earnings_panel(EarningsProcess.from_table_1("full"), n_households=50,
                                    n_years=4, seed=2)
    frame, regimes = _files(tmp_path, panel)
    p, r = tmp_path / "panel.csv", tmp_path / "regimes.csv"
    frame.drop(columns="entry_year").to_csv(p, index=False)
    with pytest.raises(PanelError, match=r"missing column\(s\) \['entry_year'\]"):
        read_earnings_panel(p, r)
    bad = frame.copy()
    bad.loc[0, "entry_year"] = bad.loc[0, "year"] + 1
    bad.to_csv(p, index=False)
    with pytest.raises(PanelError, match="observed before its entry_year"):
        read_earnings_panel(p, r)
    pd.concat([frame, frame.iloc[:1]]).to_csv(p, index=False)
    with pytest.raises(PanelError, match="appears twice"):
        read_earnings_panel(p, r)
    frame.to_csv(p, index=False)
    regimes.iloc[1:].to_csv(r, index=False)
    with pytest.raises(PanelError, match=r"no regime for year\(s\) \[1960\]"):
        read_earnings_panel(p, r)
    with pytest.raises(PanelError, match="no such file"):
        read_earnings_panel(tmp_path / "none.csv", r)
