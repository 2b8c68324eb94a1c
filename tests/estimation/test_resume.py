"""A study killed mid-run (SIGKILL of the driver) and resumed ends with the requested
number of finished trials (complete, or failed with a recorded solver error), none
evaluated twice; the trials the dead driver left running are failed and re-enqueued.

The driver is the CLI in a subprocess that joins this session's Ray; each
evaluation sleeps 0.2 s (``debug.sleep``) so the kill lands mid-study.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import optuna
import pytest
import ray
import yaml
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from .conftest import huggett_spec

pytestmark = pytest.mark.usefixtures("ray_session")
N_TRIALS = 12


def _cli(spec_path, out, address, *extra) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "hetspace.cli", "estimate", str(spec_path), "--out", str(out),
           "--address", address, *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "RAY_AUTH_MODE": "disabled"})


def _study(journal) -> optuna.Study:
    storage = JournalStorage(JournalFileBackend(str(journal)))
    return optuna.load_study(study_name="resume", storage=storage)


def _complete(journal) -> int:
    if not journal.exists():
        return 0
    try:
        return len(_study(journal).get_trials(states=(TrialState.COMPLETE,)))
    except KeyError:  # the study is not created yet
        return 0


def test_killed_study_resumes_to_the_requested_trials(tmp_path):
    spec = huggett_spec("resume", optimizer={"n_trials": N_TRIALS, "polish": False},
                        debug={"sleep": 0.2}, tracking={"experiment": "resume"})
    spec_path = tmp_path / "resume.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    out, journal = tmp_path / "out", tmp_path / "out" / "study.journal"
    address = ray.get_runtime_context().gcs_address
    proc = _cli(spec_path, out, address)
    deadline = time.monotonic() + 120
    while _complete(journal) < 4 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()[0]
    proc.kill()  # SIGKILL: no cleanup in the driver
    proc.wait()
    killed_at = _complete(journal)
    assert 4 <= killed_at < N_TRIALS
    running = _study(journal).get_trials(states=(TrialState.RUNNING,))
    resumed = _cli(spec_path, out, address, "--resume")
    output, _ = resumed.communicate(timeout=240)
    assert resumed.returncode == 0, output
    trials = _study(journal).get_trials()
    # finished: complete, or failed with a recorded reason (a solve that did not converge)
    done = [t for t in trials if t.state == TrialState.COMPLETE
            or (t.state == TrialState.FAIL and "fail_reason" in t.user_attrs)]
    assert len(done) == N_TRIALS
    assert sum(t.state == TrialState.COMPLETE for t in done) >= N_TRIALS - 3
    assert len({tuple(sorted(t.params.items())) for t in done}) == N_TRIALS  # no duplicates
    abandoned = [t for t in trials if "abandoned" in t.user_attrs]
    assert {t.number for t in abandoned} == {t.number for t in running}
    assert all(t.state == TrialState.FAIL for t in abandoned)
    requeued = {t.user_attrs.get("requeued_from") for t in done}
    assert {t.number for t in running} <= requeued  # the lost points were evaluated after all
    assert "trials" in output and "objective" in output
