"""The HTML report, maps by location and `hetspace plot` / `hetspace report`, on a tiny
spatial sweep (spatial8 at two values of theta, each with and without a -1% shock to MA)
and a tiny failing Armington sweep, on the session's Ray with real MLflow stores in
temporary folders."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from hetspace.cli import app
from hetspace.core.config import load_model_config
from hetspace.core.errors import InvalidConfigError
from hetspace.core.locations import parse_locations
from hetspace.sweeps import SweepSpec, load_results, run_sweep
from hetspace.sweeps.effects import add_shock_effects
from hetspace.sweeps.maps import map_figure
from hetspace.sweeps.tables import display_from_meta, moment_figure, read_meta, table_from_dir

from .conftest import REPO_ROOT, armington_spec

SPATIAL8 = REPO_ROOT / "configs/models/spatial8.yaml"


@pytest.fixture(scope="module")
def spatial(ray_session, tmp_path_factory):
    """A finished 4-point spatial sweep with a region shock (n_a = 40: fast, coarse)."""
    spec = SweepSpec.from_dict({
        "name": "tiny8", "model": "incomplete_markets", "baseline": {"config": str(SPATIAL8)},
        "grid": {"theta": [0.3, 0.5]},
        "shocks": {"locations": [2], "sizes": [-0.01], "include_unshocked": True},
        "numerics": {"n_a": 40},
        "moments": ["r", "shock_population_change", "welfare_change"],
        "resources": {"num_actors": 2}}, source="tiny8")
    return run_sweep(spec, tmp_path_factory.mktemp("tiny8") / "out")


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(b) for b in
            re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)]


def test_sweep_writes_a_self_contained_report_logged_to_mlflow(spatial) -> None:
    page = spatial.report.read_text(encoding="utf-8")
    assert spatial.report == spatial.out_dir / "report.html"
    # the table, in display units with labels and units in its header
    assert "<h3>moments by Migration elasticity θ (shock: MA, -1% productivity" in page
    assert "<th>Interest rate (annual %)</th>" in page
    assert "(shock: MA, -1% productivity" in table_from_dir(spatial.out_dir)  # `hetspace table`
    assert "<th>Population change, shocked location (%)</th>" in page
    # every PNG of plots/ embedded (the maps among them), nothing fetched from elsewhere
    pngs = sorted((spatial.out_dir / "plots").glob("*.png"))
    assert {p.name for p in pngs} >= {"map_population_change.png", "map_welfare_change.png"}
    images = _images(page)
    assert len(images) == len(pngs)
    assert sorted(images) == sorted(p.read_bytes() for p in pngs)
    assert not re.search(r"(src|href)=['\"]?(https?:|file:|/)", page)
    # diagnostics and the spec
    assert "No point failed." in page and "euler_error_max_log10" in page
    assert "t_solve" in page and "name: tiny8" in page
    artifacts = {a.path for a in MlflowClient(spatial.tracking_uri).list_artifacts(
        spatial.run_id)}
    assert "report.html" in artifacts


def test_report_command_rewrites_the_page_and_logs_it_to_the_sweep_run(spatial) -> None:
    (spatial.out_dir / "report.html").unlink()
    result = CliRunner().invoke(app, ["report", str(spatial.out_dir)])
    assert result.exit_code == 0, result.output
    assert f"report: {spatial.out_dir / 'report.html'}" in result.output
    assert f"logged to MLflow run {spatial.run_id}" in result.output
    assert len(_images((spatial.out_dir / "report.html").read_text())) >= 2


def test_failed_points_show_in_the_report_with_their_errors(ray_session, tmp_path) -> None:
    spec = SweepSpec.from_dict(armington_spec(numerics={"max_iter": 1, "tol": 1e-14},
                                              grid={"sigma": [2.0, 3.0]}))
    result = run_sweep(spec, tmp_path)
    page = result.report.read_text()
    assert "Failed points (2)" in page and "No point solved: no tables." in page
    assert page.count("SolverConvergenceError") == 2


def test_map_command_draws_the_change_at_each_location(spatial) -> None:
    result = CliRunner().invoke(app, ["plot", str(spatial.out_dir), "--map",
                                      "population_change", "--at", "theta=0.5"])
    assert result.exit_code == 0, result.output
    png = spatial.out_dir / "plots/map_population_change_theta0.5.png"
    assert result.output.split() == [str(png), str(png.with_suffix(".pdf"))]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.with_suffix(".pdf").exists()

    meta = read_meta(spatial.out_dir)
    df = add_shock_effects(load_results(spatial.out_dir), meta["axes"])
    fig = map_figure(df, meta, "population_change", None, display_from_meta(meta))
    ax = fig.axes[0]
    locations = load_model_config(SPATIAL8).locations
    dots = ax.collections[0]
    np.testing.assert_allclose(dots.get_offsets(), [[loc.lon, loc.lat] for loc in locations])
    shocked = df[df["shock"] != "none"].iloc[0]
    np.testing.assert_allclose(dots.get_array(),
                               100.0 * np.asarray(shocked["l_population_change"]), rtol=1e-12)
    values = np.asarray(dots.get_array())
    assert values[2] < 0 and (np.delete(values, 2) > 0).all()  # people leave MA for the rest
    assert ax.get_xlabel() == "Longitude (degrees east)"
    assert ax.get_ylabel() == "Latitude (degrees north)"
    assert "Population change by location" in ax.get_title()
    assert "-1% productivity shock to MA" in ax.get_title()
    assert fig.axes[1].get_ylabel() == "Population change (%)"  # the colour bar
    assert any(t.get_text().startswith("MA -") for t in ax.texts)


def test_map_errors_name_what_is_missing(spatial, tmp_path) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["plot", str(spatial.out_dir), "--map", "nonsense"])
    assert bad.exit_code == 2 and "population_change" in bad.output
    bad = runner.invoke(app, ["plot", str(spatial.out_dir), "--map", "population_change",
                              "--at", "theta"])
    assert bad.exit_code == 2 and "axis=value" in bad.output
    meta = read_meta(spatial.out_dir)
    df = add_shock_effects(load_results(spatial.out_dir), meta["axes"])
    with pytest.raises(InvalidConfigError, match="no location coordinates"):
        map_figure(df, {**meta, "locations": []}, "population_change")


def test_locations_are_validated_where_they_are_written(tmp_path) -> None:
    locations, problems = parse_locations({"A": [91.0, 0.0], "B": [0.0, -200], "C": [1, 2],
                                           "D": "north"})
    assert [loc.name for loc in locations] == ["C"]
    assert problems == ["locations.A[0]: must be a number in [-90, 90], got 91.0",
                        "locations.B[1]: must be a number in [-180, 180], got -200",
                        "locations.D: must be [latitude, longitude], got 'north'"]
    text = SPATIAL8.read_text().replace("  VT: [44.1, -72.7]\n", "")
    config = tmp_path / "seven.yaml"
    config.write_text(text)
    with pytest.raises(InvalidConfigError, match="names 7 locations, the params have 8"):
        load_model_config(config)


def test_effect_plots_name_the_shock_and_their_units(spatial) -> None:
    meta = read_meta(spatial.out_dir)
    df = add_shock_effects(load_results(spatial.out_dir), meta["axes"])
    display = display_from_meta(meta)
    names = [loc[0] for loc in meta["locations"]]
    effect = moment_figure(df, meta["axes"], "shock_population_change", "theta", display,
                           names).axes[0]
    assert effect.get_title() == ("Population change, shocked location\n"
                                  "(after a -1% productivity shock to MA)")
    assert effect.get_xlabel() == "Migration elasticity θ"
    assert effect.get_ylabel() == "Population change, shocked location (%)"
    level = moment_figure(df, meta["axes"], "r", "theta", display, names).axes[0]
    assert level.get_title() == "Interest rate\n(before the shock)"
    assert level.get_ylabel() == "Interest rate (annual %)"
    assert (level.lines[0].get_ydata() > 0.5).all()  # annual % (2.4), not the fraction 0.024
