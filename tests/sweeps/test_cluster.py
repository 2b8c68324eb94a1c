"""The cluster path: cluster configs pass Ray's own validation; submit.py joins a real head."""

from __future__ import annotations

import copy
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from hetspace.sweeps import load_results

from .conftest import REPO_ROOT, armington_spec, free_port

CLUSTER_CONFIGS = [REPO_ROOT / "cluster.yaml", REPO_ROOT / "cluster-local.yaml"]


@pytest.mark.parametrize("path", CLUSTER_CONFIGS, ids=lambda p: p.name)
def test_cluster_config_passes_ray_validation(path: Path) -> None:
    # what `ray up` does before contacting any provider (commands._bootstrap_config)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    config = prepare_config(copy.deepcopy(raw))
    validate_config(config)
    commands = " ".join(config["setup_commands"])
    assert "pip install -e ~/hetspace" in commands
    assert config["file_mounts"]["~/hetspace"] == "."
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    assert "RAY_AUTH_MODE=token" in " ".join(config["head_start_ray_commands"])


def test_broken_cluster_config_is_rejected() -> None:
    raw = yaml.safe_load((REPO_ROOT / "cluster.yaml").read_text(encoding="utf-8"))
    raw["available_node_types"]["head"]["min_workrs"] = 1
    with pytest.raises(Exception, match="min_workrs"):
        validate_config(prepare_config(raw))


def test_submit_joins_a_running_head(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    ray_tmp = tempfile.mkdtemp(prefix="hsray", dir="/tmp")  # short: unix socket paths <= 107
    head = subprocess.Popen(
        [str(Path(sys.executable).with_name("ray")), "start", "--head", f"--port={port}",
         "--node-ip-address=127.0.0.1", "--num-cpus=2", "--include-dashboard=false",
         f"--temp-dir={ray_tmp}", "--block"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        spec = tmp_path / "s.yaml"
        spec.write_text(yaml.safe_dump(armington_spec(name="remote")), encoding="utf-8")
        out = tmp_path / "out"
        done = _submit(spec, out, {**env, "RAY_ADDRESS": f"127.0.0.1:{port}"})
        assert done.returncode == 0, done.stderr
        assert "12 points: 12 evaluated" in done.stdout
        assert len(load_results(out)) == 12
    finally:
        _stop(head)  # this head only: `ray stop` would also stop every other Ray on the machine
        shutil.rmtree(ray_tmp, ignore_errors=True)


def _submit(spec: Path, out: Path, env: dict) -> subprocess.CompletedProcess:
    script = REPO_ROOT / "sweeps" / "submit.py"
    deadline = time.monotonic() + 90
    while True:  # the head needs a few seconds before it accepts drivers
        done = subprocess.run([sys.executable, str(script), str(spec), "--out", str(out)],
                              env=env, capture_output=True, text=True, timeout=300)
        if done.returncode != 1 or "no running Ray cluster" not in done.stderr \
                or time.monotonic() > deadline:
            return done
        time.sleep(2)


def _stop(head: subprocess.Popen) -> None:
    head.send_signal(signal.SIGTERM)  # `ray start --block` stops its processes on SIGTERM
    try:
        head.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(head.pid, signal.SIGKILL)  # whatever is left of the group this test started
    except ProcessLookupError:
        pass
    head.wait(timeout=30)
