"""`hetspace estimate` on earnings_process specs (estimation/earnings_spec.py): the GMM of
the Huggett-Kaplan earnings process (papers/004 section 3.1) from the command line, on a
simulated panel and on panel files; its errors and exit codes (README)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from hetspace.cli import app
from hetspace.estimation.earnings_process import NAMES, EarningsProcess
from hetspace.estimation.spec import load_estimation_spec, load_spec

from ..sweeps.conftest import REPO_ROOT

SHIPPED = REPO_ROOT / "configs" / "estimation" / "earnings_process_recovery.yaml"


def _spec(tmp_path: Path, name: str = "eg", **data) -> Path:
    """The shipped spec on a smaller panel (4,000 households, 15 years), with changes."""
    spec = yaml.safe_load(SHIPPED.read_text())
    spec["name"] = name
    spec["data"]["simulated"].update(n_households=4000, n_years=15, seed=3)
    spec.update(data)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def _run(*args: str):
    return CliRunner().invoke(app, ["estimate", *map(str, args)])


@pytest.fixture(scope="module")
def recovered(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("earnings")
    out = tmp / "out"
    result = _run(_spec(tmp), "--out", out)
    return result, out


def test_cli_recovers_table_1_process(recovered):
    # The panel's sampling error only: every estimate within 4 standard errors of Table 1's
    # full-sample value, and the standard errors small enough to mean something. When
    # written (4,000 households, 15 years, seed 3): |z| <= 0.7 for all five; rho .947 (se
    # .010, true .942), s_eta2 .039 and .051 (se .009, .010; true .038, .058).
    result, out = recovered
    assert result.exit_code == 0, result.output
    assert "| rho |" in result.output and "outputs:" in result.output
    summary = json.loads((out / "estimates.json").read_text())
    truth = EarningsProcess.from_table_1("full")
    assert summary["converged"] and summary["n_moments"] > 300
    for name in NAMES:
        est, se = summary["estimates"][name], summary["se"][name]
        assert 0.0 < se and abs(est - getattr(truth, name)) < 4.0 * se, (name, est, se)
        assert summary["truth"][name] == getattr(truth, name)
    assert summary["se"]["rho"] < 0.02 and summary["se"]["s_v2"] < 0.02
    table = pd.read_csv(out / "estimates.csv")
    assert list(table["parameter"]) == list(NAMES)
    np.testing.assert_allclose(table["z"], (table["estimate"] - table["true"]) / table["se"],
                               rtol=1e-12)
    assert (out / "estimates.md").read_text().startswith("| parameter | estimate | se |")


def test_panel_files_give_the_same_estimates(recovered, tmp_path):
    # The same panel written as the tidy files a user brings, read back through the spec's
    # data.panel / data.regimes: the same moments, hence the same estimates.
    _, out = recovered
    spec = load_spec(_spec(tmp_path))
    panel = spec.panel
    rows = [(i, 1950 + t, panel.u[i, t], 1950 + int(panel.entry[i]))
            for i, t in zip(*np.nonzero(np.isfinite(panel.u)), strict=True)]
    pd.DataFrame(rows, columns=["household", "year", "u", "entry_year"]).to_parquet(
        tmp_path / "panel.parquet")
    pd.DataFrame({"year": 1950 + np.arange(panel.boom.size), "boom": panel.boom}).to_csv(
        tmp_path / "regimes.csv", index=False)
    files = _spec(tmp_path, "files", data={"panel": "panel.parquet", "regimes": "regimes.csv"})
    result = _run(files, "--out", tmp_path / "out2")
    assert result.exit_code == 0, result.output
    got = json.loads((tmp_path / "out2" / "estimates.json").read_text())
    want = json.loads((out / "estimates.json").read_text())
    assert got["truth"] is None and got["n_moments"] == want["n_moments"]
    for name in NAMES:
        assert got["estimates"][name] == pytest.approx(want["estimates"][name], rel=1e-6)


def test_bad_earnings_specs_name_every_problem(tmp_path):
    bad = _spec(tmp_path, "bad", data={
        "simulated": {"process": {"sample": "full", "rho": 1.2}, "n_households": 0,
                      "n_years": 10, "p_boom": 1.0}},
        gmm={"max_lag": -1, "start": {"s_v2": -0.1}, "lags": 3})
    result = _run(bad)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith(f"error: {bad}: line ") for line in lines), lines
    text = result.stderr
    for expected in ("estimation.gmm.lags: unknown key", "estimation.gmm.max_lag: must be an "
                     "integer >= 0, got -1", "estimation.gmm.start.s_v2: must be > 0",
                     "estimation.data.simulated.process.rho: must be < 1",
                     "estimation.data.simulated.n_households: must be an integer >= 2, got 0",
                     "estimation.data.simulated.p_boom: must be a probability in (0, 1)"):
        assert expected in text, (expected, text)
    missing = _spec(tmp_path, "missing", data={"panel": "none.csv", "regimes": "r.csv"})
    result = _run(missing)
    assert result.exit_code == 2
    assert result.stderr.strip().endswith(f"estimation.data.panel: {tmp_path}/none.csv: "
                                          "no such file")


def test_flags_for_studies_and_empty_cells_are_errors(tmp_path):
    path = _spec(tmp_path)
    result = _run(path, "--resume", "--num-actors", "1")
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"error: {path}: --resume, --num-actors: an "
                                     "earnings_process spec runs in this process (no Ray "
                                     "actors, no study to resume)")
    empty = _spec(tmp_path, "empty", gmm={"min_count": 100000})
    result = _run(empty, "--out", tmp_path / "o")
    assert result.exit_code == 3
    assert "no (year, lag) cell has 100000 households" in result.stderr


def test_a_model_estimation_loader_refuses_an_earnings_spec(tmp_path):
    from hetspace.core import InvalidConfigError

    with pytest.raises(InvalidConfigError, match=r"estimation\.kind: earnings_process specs "
                       r"are not model estimations"):
        load_estimation_spec(SHIPPED)
    with pytest.raises(InvalidConfigError, match=r"estimation\.kind: must be one of model, "
                       r"earnings_process, got 'gmm'"):
        load_spec(_spec(tmp_path, kind="gmm"))
