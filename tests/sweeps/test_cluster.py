"""The cluster path: cluster configs pass Ray's own validation; submit.py joins a real head."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from hetspace.sweeps import load_results

from .conftest import REPO_ROOT, armington_spec

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


def test_submit_joins_a_running_head(tmp_path: Path, ray_head) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump(armington_spec(name="remote")), encoding="utf-8")
    out = tmp_path / "out"
    done = ray_head.submit([spec, "--out", out])
    assert done.returncode == 0, done.stderr
    assert "12 points: 12 evaluated" in done.stdout
    assert len(load_results(out)) == 12


def test_ray_token_notice_is_dropped_but_its_disabled_warning_kept(caplog) -> None:
    import logging

    from hetspace.sweeps import cluster

    cluster._quiet_token_notice()
    ray_logger = logging.getLogger("ray._private.authentication.authentication_token_setup")
    with caplog.at_level(logging.WARNING):
        ray_logger.warning("Token authentication is enabled for this Ray cluster. Set ...")
        ray_logger.warning("Token authentication is disabled for this Ray cluster. Anyone ...")
    texts = [r.getMessage() for r in caplog.records]
    assert texts == ["Token authentication is disabled for this Ray cluster. Anyone ..."]


def test_actor_count_on_a_joined_cluster_says_it_does_not_grow_it(ray_session, caplog) -> None:
    # an autoscaling cluster (cluster.yaml: min_workers 0) got one actor per CPU it had at
    # the start, silently: its workers were never used
    import logging

    from hetspace.sweeps.cluster import actor_count, cluster_cpus

    cpus = cluster_cpus()  # 2: the session's Ray
    with caplog.at_level(logging.WARNING, logger="hetspace.sweeps.cluster"):
        assert actor_count(None, 1) == cpus  # a local instance started here: no word
        assert actor_count(None, 1, limit=1) == 1  # fewer points than CPUs: no word
        assert actor_count(1, 1, joined=True) == 1  # asked for, and it fits: no word
        assert not caplog.records
        assert actor_count(None, 1, joined=True) == cpus
        assert actor_count(cpus + 3, 1, joined=True) == cpus
    grow = ("(an autoscaling cluster is not grown for more: start its worker nodes first, "
            "e.g. min_workers in cluster.yaml)")
    assert [r.getMessage() for r in caplog.records] == [
        f"starting {cpus} actors of 1 CPU(s) each, as many as the {cpus} CPUs the Ray cluster "
        f"has now hold {grow}",
        f"{cpus + 3} actors of 1 CPU(s) each need {cpus + 3} CPUs but the Ray cluster has "
        f"{cpus}; starting {cpus} actors {grow}"]
