"""Moments that describe themselves: transforms, number formats, table headers and notes,
LaTeX for papers, plot axis labels, and the effects of a region shock from stored rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hetspace.core import get_model
from hetspace.core.moment_info import MomentInfo, describe
from hetspace.sweeps.display import Display, format_number
from hetspace.sweeps.effects import add_shock_effects
from hetspace.sweeps.tables import (
    constant_moments,
    format_tables,
    moment_figure,
    robustness_tables,
    write_tables,
)


def test_transforms_give_display_units() -> None:
    # Huggett's two-month r of -0.00433998 is (1 - 0.00433998)^6 - 1 = -2.575...% a year
    r = MomentInfo("Interest rate", "annual %", "annual_percent")
    assert r.display(-0.00433998, periods_per_year=6) == pytest.approx(
        100 * ((1 - 0.00433998) ** 6 - 1), rel=1e-12)
    assert r.display(0.025, periods_per_year=1) == pytest.approx(2.5)
    assert MomentInfo("Share", "%", "percent").display(0.0342) == pytest.approx(3.42)
    assert MomentInfo("Error", "log10", "log10").display(1e-8) == pytest.approx(-8.0)
    assert math.isnan(MomentInfo("Error", "", "log10").display(-1.0))
    assert math.isnan(r.display(float("nan"), 6))
    assert r.header() == "Interest rate (annual %)"
    assert MomentInfo("Wealth Gini").header() == "Wealth Gini"


def test_bad_moment_info_and_periods_are_errors() -> None:
    with pytest.raises(ValueError, match="transform must be one of"):
        MomentInfo("x", "%", "percentage")
    with pytest.raises(ValueError, match="label must be a non-empty string"):
        MomentInfo(" ")
    with pytest.raises(ValueError, match="periods_per_year must be a number > 0, got 0"):
        Display(periods_per_year=0)


def test_workhorse_registry_covers_every_moment() -> None:
    from hetspace.core.incomplete_markets import examples, solve

    model = get_model("incomplete_markets")
    params, numerics = examples.huggett_1993()
    sol = solve(params, numerics.with_(n_a=60))
    assert set(sol.moments()) <= set(model.moment_info)
    assert set(sol.by_location()) <= set(model.moment_info)
    assert describe("unknown_moment", model.moment_info).header() == "unknown_moment"


@pytest.mark.parametrize(("value", "text"), [
    (0.0342, "0.03420"), (-2.5759, "-2.576"), (12.345, "12.35"), (0.99999, "1.000"),
    (1.127e8, "1.127e+08"), (0.0, "0"), (float("nan"), "n/a"), ("failed", "failed")])
def test_numbers_show_four_significant_digits(value, text) -> None:
    assert format_number(value) == text


def _results(**moments) -> pd.DataFrame:
    """A results frame over gamma x theta (2 x 2) with the given m_ columns."""
    df = pd.DataFrame({"gamma": [1.0, 1.0, 2.0, 2.0], "theta": [0.2, 0.4, 0.2, 0.4],
                       "status": ["ok"] * 4, "shock": ["none"] * 4})
    for name, values in moments.items():
        df["m_" + name] = values
    return df


def test_table_headers_carry_labels_and_units_and_constants_become_a_note(tmp_path) -> None:
    df = _results(r=[0.01, 0.02, 0.03, -0.00433998], consumption_mean=[0.882609] * 4)
    display = Display.for_model(get_model("incomplete_markets"), periods_per_year=6)
    assert constant_moments(df, ["r", "consumption_mean"]) == {"consumption_mean": 0.882609}
    md_path, tex_path, csv_path = write_tables(tmp_path, df, ["gamma", "theta"],
                                               ["r", "consumption_mean"], display)
    md = md_path.read_text()
    assert ("**Interest rate (annual %) by Risk aversion γ (rows) and Migration elasticity θ "
            "(columns)**") in md
    assert "| Risk aversion γ | 0.2 | 0.4 |" in md
    # (1.03)^6 - 1 = 19.41%, (1 - 0.00433998)^6 - 1 = -2.576%
    assert "| 2 | 19.41 | -2.576 |" in md
    assert "Mean consumption (model units) by" not in md
    assert "*Not shown, the same at every point: Mean consumption (model units) = 0.8826.*" in md
    tex = tex_path.read_text()
    assert r"\begin{tabular}{lSS}" in tex and r"\toprule" in tex and r"\bottomrule" in tex
    assert r"Risk aversion $\gamma$ & {0.2} & {0.4} \\" in tex
    assert r"annual \%" in tex
    assert "Mean consumption" in csv_path.read_text()  # the CSV keeps every moment


def test_latex_text_cells_are_braced_for_siunitx() -> None:
    df = _results(r=[0.01, 0.02, 0.03, 0.04])
    df.loc[3, "status"] = "failed"
    tex = format_tables(robustness_tables(df, ["gamma", "theta"], ["r"]), "tex")
    assert "& {failed} \\\\" in tex


def test_plot_axes_use_labels_and_units() -> None:
    df = _results(r=[0.01, 0.02, 0.03, 0.04])
    display = Display.for_model(get_model("incomplete_markets"), periods_per_year=1)
    ax = moment_figure(df, ["gamma", "theta"], "r", "theta", display).axes[0]
    assert ax.get_xlabel() == "Migration elasticity θ"
    assert ax.get_ylabel() == "Interest rate (annual %)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "Risk aversion γ = 1", "Risk aversion γ = 2"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [1.0, 2.0], rtol=1e-12)


def test_shock_effects_compare_each_shocked_row_with_its_unshocked_sibling() -> None:
    df = pd.DataFrame({
        "theta": [0.2, 0.2, 0.4, 0.4], "shock": ["none", "loc 1 -0.01"] * 2,
        "shock_location": [None, 1, None, 1], "status": ["ok", "ok", "failed", "ok"],
        "m_welfare_ce": [2.0, 1.9, np.nan, 1.0],
        "l_population_share": [[0.5, 0.5], [0.52, 0.48], None, [0.5, 0.5]],
        "l_welfare_ce": [[1.0, 2.0], [1.0, 1.5], None, [1.0, 1.0]]})
    out = add_shock_effects(df, ["theta"])
    np.testing.assert_allclose(out["m_welfare_change"], [np.nan, -0.05, np.nan, np.nan])
    np.testing.assert_allclose(out["m_shock_population_change"],
                               [np.nan, 0.48 / 0.5 - 1, np.nan, np.nan])
    np.testing.assert_allclose(out["m_shock_welfare_change"], [np.nan, -0.25, np.nan, np.nan])
    np.testing.assert_allclose(out.loc[1, "l_population_change"], [0.04, -0.04])
    assert "m_shock_consumption_change" not in out  # no source column, no effect
    assert "m_welfare_change" not in df  # the input is unchanged


@pytest.mark.parametrize("name", ["hadsge", "incomplete_markets", "human_capital",
                                  "human_capital_benchmark"])
def test_a_models_registry_labels_every_moment_it_names(name) -> None:
    # tables and plots read labels and units from it; a moment missing there shows raw
    from hetspace.core import get_model

    model = get_model(name)
    named = {*model.moment_names, *(model.simulated_names or ())}
    assert named <= set(model.moment_info), named - set(model.moment_info)
    assert all(describe(m, model.moment_info).label != m for m in named)


def test_human_capital_labels_ages_and_shows_shares_in_percent() -> None:
    # the benchmark's model age 1 is 22 (section 4), the general model's ages are model ages
    from hetspace.core import get_model

    bench = get_model("human_capital_benchmark").moment_info
    assert bench["value_to_naive_j10"].header() == "v / naive value at age 31"
    assert get_model("human_capital").moment_info["value_to_naive_j10"].label \
        == "v / naive value at model age 10"
    assert bench["share_stock_j1"].header() == "Stock share of v at age 22 (%)"
    assert bench["share_stock_j1"].display(0.24) == pytest.approx(24.0)
    assert bench["wealth_income_ratio"].display(3.5) == 3.5
