"""The ``hetspace`` command line: version, models, solve, and every error path."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hetspace import __version__
from hetspace.cli import EXIT_CONFIG, EXIT_OUTPUT, EXIT_SOLVER, app
from hetspace.core.config import load_model_config
from hetspace.core.protocol import solution_arrays

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO_ROOT / "configs" / "models").glob("*.yaml"))
TOY = "model: toy_sqrt\nparams:\n  a: 2.0\n  weights: [1.0, 3.0]\n"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def assert_clean_error(result, code: int, *needles: str) -> str:
    """Exit ``code``, stderr lines all start with 'error:', no traceback, nothing on stdout."""
    assert result.exit_code == code, result.output
    err = result.stderr
    assert "Traceback" not in result.output
    lines = err.strip().splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), err
    for needle in needles:
        assert needle in err, err
    return err


def test_version(runner):
    result = invoke(runner, "--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"hetspace {__version__}"


def test_models_lists_registered_models_with_descriptions(runner, toy_model):
    result = invoke(runner, "models")
    assert result.exit_code == 0
    assert "armington" in result.stdout
    assert "toy_sqrt" in result.stdout
    assert "square root by Newton" in result.stdout


def test_solve_writes_npz_and_summary(runner, toy_model, write_config, tmp_path):
    path = write_config(TOY, name="two.yaml")
    out = tmp_path / "results"
    result = invoke(runner, "solve", str(path), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "converged" in result.stdout
    assert "root" in result.stdout and "1.41421" in result.stdout
    assert "relative_error" in result.stdout

    cfg = load_model_config(path)
    expected = toy_model.solve(cfg.params, numerics=cfg.numerics)
    with np.load(out / "solution.npz", allow_pickle=False) as npz:
        arrays = solution_arrays(expected)
        assert sorted(npz.files) == sorted(arrays) == ["path", "x"]
        for name, arr in arrays.items():
            np.testing.assert_array_equal(npz[name], arr)
    np.testing.assert_allclose(expected.x, [math.sqrt(2.0)], rtol=1e-12)

    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "toy_sqrt"
    assert summary["converged"] is True
    assert summary["n_iter"] == expected.n_iter
    assert summary["hetspace_version"] == __version__
    assert summary["params"] == {"a": 2.0, "weights": [1.0, 3.0]}
    assert summary["numerics"] == {"tol": 1e-12, "max_iter": 100, "raise_on_failure": True}
    assert summary["moments"] == pytest.approx(expected.moments(), rel=1e-15)
    assert summary["residuals"] == pytest.approx(dict(expected.residuals))
    assert set(summary["timings_s"]) == {"load", "solve", "moments"}
    assert all(t >= 0 for t in summary["timings_s"].values())
    # atomic writes leave no temporary files behind
    assert sorted(p.name for p in out.iterdir()) == ["solution.npz", "summary.json"]


def test_solve_default_out_dir_is_out_slash_stem(runner, toy_model, write_config, tmp_path,
                                                 monkeypatch):
    path = write_config(TOY, name="my_run.yaml")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = invoke(runner, "solve", str(path))
    assert result.exit_code == 0, result.output
    assert (work / "out" / "my_run" / "solution.npz").is_file()
    assert (work / "out" / "my_run" / "summary.json").is_file()


def test_solve_overwrites_previous_outputs(runner, toy_model, write_config, tmp_path):
    out = tmp_path / "o"
    invoke(runner, "solve", str(write_config(TOY)), "-o", str(out))
    second = write_config(TOY.replace("a: 2.0", "a: 9.0"), name="nine.yaml")
    result = invoke(runner, "solve", str(second), "-o", str(out))
    assert result.exit_code == 0
    with np.load(out / "solution.npz") as npz:
        np.testing.assert_allclose(npz["x"], [3.0], rtol=1e-12)


def test_verbose_logs_to_stderr(runner, toy_model, write_config, tmp_path):
    result = invoke(runner, "solve", str(write_config(TOY)), "-o", str(tmp_path / "o"), "-v")
    assert result.exit_code == 0
    assert "INFO hetspace.cli: solving" in result.stderr
    quiet = invoke(runner, "solve", str(write_config(TOY)), "-o", str(tmp_path / "o"))
    assert "INFO" not in quiet.stderr


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_solve_shipped_examples(runner, path, tmp_path):
    out = tmp_path / "out"
    result = invoke(runner, "solve", str(path), "--out", str(out))
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["converged"] is True
    cfg = load_model_config(path)
    expected = cfg.model.solve(cfg.params, numerics=cfg.numerics)
    with np.load(out / "solution.npz", allow_pickle=False) as npz:
        arrays = solution_arrays(expected)
        assert sorted(npz.files) == sorted(arrays)
        for name, arr in arrays.items():
            np.testing.assert_array_equal(npz[name], arr)


# ------------------------------------------------------------------------------ errors


def test_missing_file(runner, tmp_path):
    missing = tmp_path / "nope.yaml"
    result = invoke(runner, "solve", str(missing))
    err = assert_clean_error(result, EXIT_CONFIG)
    assert err.strip() == f"error: {missing}: file not found"


def test_bad_yaml(runner, write_config):
    path = write_config("model: toy_sqrt\nparams: {a: 2\n")
    result = invoke(runner, "solve", str(path))
    err = assert_clean_error(result, EXIT_CONFIG, f"{path}: invalid YAML at line 3, column 1")
    assert len(err.strip().splitlines()) == 1


def test_unknown_model(runner, write_config):
    path = write_config("model: nonesuch\nparams: {}\n")
    result = invoke(runner, "solve", str(path))
    assert_clean_error(result, EXIT_CONFIG,
                       f"{path}: line 1: model: unknown model 'nonesuch'", "known models: ",
                       "armington")


def test_invalid_params_name_path_line_and_value(runner, toy_model, write_config, tmp_path):
    path = write_config("model: toy_sqrt\nparams:\n  a: -3\n  weights: [1, -1]\n")
    result = invoke(runner, "solve", str(path), "-o", str(tmp_path / "o"))
    err = assert_clean_error(result, EXIT_CONFIG)
    assert err.strip().splitlines() == [
        f"error: {path}: line 3: params.a: must be > 0, got -3.0",
        f"error: {path}: line 4: params.weights[1]: must be >= 0, got -1.0",
    ]
    assert not (tmp_path / "o").exists()


def test_non_convergence_exits_3_and_writes_nothing(runner, toy_model, write_config, tmp_path):
    path = write_config("model: toy_sqrt\nparams: {a: 1.0e6}\nnumerics: {max_iter: 2}\n")
    result = invoke(runner, "solve", str(path), "-o", str(tmp_path / "o"))
    err = assert_clean_error(result, EXIT_SOLVER, f"{path}: did not converge",
                             "relative_error=", "after 2 iterations")
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_unconverged_solution_is_written_but_exits_3(runner, toy_model, write_config, tmp_path):
    path = write_config(
        "model: toy_sqrt\nparams: {a: 1.0e6}\nnumerics: {max_iter: 2, raise_on_failure: false}\n"
    )
    out = tmp_path / "o"
    result = invoke(runner, "solve", str(path), "-o", str(out))
    assert_clean_error(result, EXIT_SOLVER, "solver reported no convergence")
    assert "NOT converged" in result.stdout
    assert json.loads((out / "summary.json").read_text())["converged"] is False


def test_unwritable_output_exits_4(runner, toy_model, write_config, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = invoke(runner, "solve", str(write_config(TOY)), "-o", str(blocker / "sub"))
    assert_clean_error(result, EXIT_OUTPUT, f"cannot write outputs to {blocker / 'sub'}")


# ----------------------------------------------------------------- the real console script

HETSPACE = shutil.which("hetspace", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(HETSPACE is None, reason="console script not installed next to python")
def test_console_script_version_and_error_exit_code(tmp_path):
    done = subprocess.run([HETSPACE, "--version"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert done.stdout.strip() == f"hetspace {__version__}"

    missing = tmp_path / "missing.yaml"
    done = subprocess.run([HETSPACE, "solve", str(missing)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == EXIT_CONFIG
    assert done.stderr == f"error: {missing}: file not found\n"
    assert done.stdout == ""


RUN_TOY = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("hetspace_test_toy", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
module.register_toy()
from hetspace.cli import app
app(sys.argv[2:], prog_name="hetspace")
"""


def test_subprocess_solve_and_non_convergence(tmp_path, write_config):
    conftest = str(Path(__file__).with_name("conftest.py"))
    env = {**os.environ, "COLUMNS": "120"}
    ok = write_config(TOY, name="ok.yaml")
    done = subprocess.run([sys.executable, "-c", RUN_TOY, conftest, "solve", str(ok),
                           "-o", str(tmp_path / "o")], capture_output=True, text=True,
                          check=False, env=env)
    assert done.returncode == 0, done.stderr
    assert "moments" in done.stdout
    assert (tmp_path / "o" / "summary.json").is_file()

    bad = write_config("model: toy_sqrt\nparams: {a: 1.0e6}\nnumerics: {max_iter: 1}\n",
                       name="bad.yaml")
    done = subprocess.run([sys.executable, "-c", RUN_TOY, conftest, "solve", str(bad)],
                          capture_output=True, text=True, check=False, env=env)
    assert done.returncode == EXIT_SOLVER
    assert done.stderr.startswith(f"error: {bad}: did not converge")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("command", "default"), [
    ("solve", "[default: out/<config stem>]"),
    ("sweep", "[default: out/sweeps/<sweep name>]"),
    ("estimate", "[default: out/estimation/<name>]"),
    ("table", "[default: the spec's, else all]"),
    ("runs", "[default: out]"),
])
def test_help_shows_the_defaults_written_in_the_help_text(runner, command, default):
    # rich reads help text as markup: an unescaped [default: ...] vanished as a tag
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert default in result.stdout, result.stdout


@pytest.mark.parametrize("command", [[], ["solve"], ["sweep"], ["estimate"], ["runs"]])
def test_help_shows_no_value_type_for_flags(runner, command):
    # typer's rich help printed "--resume <bool>", "--help <bool>", "-v <int>": flags take no
    # value; options that take one keep their type and every default stays
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "<bool>" not in result.stdout and "<int>" not in result.stdout, result.stdout
    flags = [line for line in result.stdout.splitlines() if "--help" in line or "--verbose" in line]
    assert flags and all(re.search(r"--(help|verbose)[\s\-v│]*[A-Z]", f) for f in flags), flags
    if command == ["sweep"]:
        assert re.search(r"--num-actors\s+<int range> \[x>=1\]", result.stdout)
        assert re.search(r"--resume\s+--no-resume\s+Skip points", result.stdout)
        assert "[default: resume]" in result.stdout
    if command == ["runs"]:
        assert re.search(r"--limit\s+-n\s+<int range> \[x>=1\]\s+\S.*\[default: 20\]",
                         result.stdout)


def test_config_larger_than_the_limit_is_refused_unread(runner, write_config):
    from hetspace.core.config import MAX_CONFIG_BYTES

    path = write_config("# padding\n" * (MAX_CONFIG_BYTES // 10 + 1) + TOY)
    result = invoke(runner, "solve", str(path))
    err = assert_clean_error(result, EXIT_CONFIG, f"{path}: is 1.0 MB; a config may have at "
                             "most 1 MB")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_config_that_is_a_pipe_is_refused_not_read_forever(tmp_path):
    pipe = tmp_path / "cfg.yaml"
    os.mkfifo(pipe)
    done = subprocess.run([sys.executable, "-m", "hetspace.cli", "solve", str(pipe)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == EXIT_CONFIG
    assert done.stderr == f"error: {pipe}: is not a regular file, expected a YAML file\n"


def test_an_error_raised_while_cleaning_up_after_an_interrupt_is_the_interrupt():
    # SIGTERM inside Optuna's journal lock release: its cleanup unlinked a file twice, and
    # the FileNotFoundError was printed as a traceback (exit 1) instead of "interrupted"
    from hetspace.core.errors import interrupted

    try:
        try:
            raise KeyboardInterrupt("signal 15")
        except BaseException:
            raise FileNotFoundError("study.journal.lock") from None
    except FileNotFoundError as e:
        assert e.__cause__ is None and interrupted(e)  # (found through __context__)
    assert not interrupted(ValueError("a bug")) and not interrupted(None)
