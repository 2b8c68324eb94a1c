"""`hetspace estimate` misuse: a resumed study whose spec changed its objective, bad --out,
no cluster, SIGTERM.

Most fail before Ray starts, so no Ray session is needed; the SIGTERM case runs the
command in a subprocess (with its own Ray).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from optuna.distributions import FloatDistribution
from typer.testing import CliRunner

from hetspace.cli import app
from hetspace.estimation import EstimationSpec, StudyChangedError
from hetspace.estimation.fingerprint import FINGERPRINT, objective_fingerprint
from hetspace.estimation.study import JOURNAL, check_resumable, open_study

from ..sweeps.conftest import free_port
from .conftest import R_TARGET, huggett_spec


def _write(tmp_path: Path, spec: dict, name: str) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def _begin_study(spec: dict, out: Path) -> None:
    """A study of ``spec`` with one finished trial, as a first session leaves it."""
    study = open_study(EstimationSpec.from_dict(spec), out, 1, resume=False)
    trial = study.ask({"beta": FloatDistribution(0.0, 1.0)})
    study.tell(trial, 1.0)


@pytest.mark.parametrize(("change", "changed"), [
    ({"targets": {"moments": {"r": R_TARGET, "mpc_mean": 0.2}}}, "targets"),
    ({"parameters": {"beta": {"lower": 0.97, "upper": 0.99, "transform": "logit"},
                     "a_low": {"lower": -6.0, "upper": -1.5}}}, "parameters"),
], ids=["targets", "bounds"])
def test_resume_with_a_changed_objective_is_refused(tmp_path, change, changed) -> None:
    out = tmp_path / "out"
    first = huggett_spec("chg")
    _begin_study(first, out)
    journal = out / JOURNAL
    before = journal.read_bytes()
    check_resumable(EstimationSpec.from_dict(first), out)  # the same spec may resume
    second = _write(tmp_path, {**first, **change}, "second.yaml")
    result = CliRunner().invoke(app, ["estimate", str(second), "--out", str(out), "--resume"])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        f"error: {second}: cannot resume the study in {journal.resolve()}: the spec's "
        f"{changed} changed since it began, so its 1 trials were scored against another "
        "objective; estimate into another --out, or delete the study to start over")
    assert journal.read_bytes() == before  # the study is left as it was


def test_budget_and_resources_may_change_on_resume(tmp_path) -> None:
    out = tmp_path / "out"
    first = huggett_spec("same")
    _begin_study(first, out)
    more = {**first, "optimizer": {"n_trials": 30, "n_startup_trials": 3},
            "resources": {"num_actors": 1}}
    check_resumable(EstimationSpec.from_dict(more), out)
    fp = objective_fingerprint(EstimationSpec.from_dict(first))
    assert fp == objective_fingerprint(EstimationSpec.from_dict(more))
    assert set(fp) == {"model", "baseline", "seed", "parameters", "targets", "weighting",
                       "method", "simulation"}
    with pytest.raises(StudyChangedError, match="the spec's seed changed"):
        check_resumable(EstimationSpec.from_dict({**first, "seed": 1}), out)
    study = open_study(EstimationSpec.from_dict(more), out, 1, resume=True)
    assert study.user_attrs[FINGERPRINT] == fp


@pytest.mark.parametrize("below", ["", "sub"], ids=["file", "below-a-file"])
def test_out_that_cannot_be_a_folder_is_exit_4(tmp_path, below) -> None:
    spec = _write(tmp_path, huggett_spec("out"), "spec.yaml")
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    out = blocker / below if below else blocker
    result = CliRunner().invoke(app, ["estimate", str(spec), "--out", str(out)])
    assert result.exit_code == 4, result.output
    assert result.stderr.strip() == (f"error: cannot write outputs to {out}: {blocker} is not "
                                     "a folder")


def test_address_auto_without_a_cluster_leaves_no_output_folder(tmp_path) -> None:
    spec = _write(tmp_path, huggett_spec("nocluster"), "spec.yaml")
    out = tmp_path / "out"
    env = {**os.environ, "RAY_ADDRESS": f"127.0.0.1:{free_port()}"}
    done = subprocess.run([sys.executable, "-m", "hetspace.cli", "estimate", str(spec),
                           "--address", "auto", "--out", str(out)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "no running Ray cluster found at address 'auto'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_cpus_per_actor_beyond_the_cluster_is_exit_2_before_any_output(ray_session,
                                                                      tmp_path) -> None:
    spec = _write(tmp_path, huggett_spec("big", resources={"cpus_per_actor": 64}), "spec.yaml")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["estimate", str(spec), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (f"error: {spec}: resources.cpus_per_actor is 64, but the "
                                     "Ray cluster has 2 CPUs, so no actor could ever start; "
                                     "lower cpus_per_actor")
    assert not out.exists()


def test_sigterm_is_the_interrupted_line(tmp_path) -> None:
    # estimate had no SIGTERM handler: Ray's C++ one printed a stack dump and aborted
    spec = _write(tmp_path, huggett_spec("term", resources={"num_actors": 1},
                                         debug={"sleep": 5.0}), "spec.yaml")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "hetspace.cli", "estimate", str(spec),
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not out.exists():  # Ray has started (the folder is made after it)
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # what is left of its own Ray
        proc.wait(timeout=30)
    assert proc.returncode == 130, stderr
    assert stderr == (f"error: interrupted; the study is kept in {out}, run the same command "
                      "with --resume to continue\n")


def test_resume_with_no_study_says_it_starts_one(tmp_path, caplog, monkeypatch) -> None:
    # a mistyped --out with --resume started a new study without a word
    import logging

    from hetspace.estimation import driver

    def stop(address):  # where Ray would start: the test ends here
        raise RuntimeError("stopped before Ray")

    monkeypatch.setattr(driver, "connect", stop)
    out = tmp_path / "typo"
    spec = EstimationSpec.from_dict(huggett_spec("fresh"))
    with caplog.at_level(logging.WARNING, logger="hetspace.estimation.driver"), \
            pytest.raises(RuntimeError, match="stopped before Ray"):
        driver.estimate(spec, out, resume=True)
    assert [r.getMessage() for r in caplog.records] == [
        f"--resume: there is no study in {out} yet (no {JOURNAL}); starting one"]
    assert not out.exists()
