"""`hetspace sweep`, `table` and `runs`; a driver killed by SIGTERM or SIGKILL, then resumed."""

from __future__ import annotations

import contextlib
import dataclasses
import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from hetspace.cli import app
from hetspace.core.errors import InvalidConfigError
from hetspace.sweeps import SweepSpec, load_results, run_sweep
from hetspace.sweeps.pool import ActorsNotReadyError, SteadyStatePool
from hetspace.sweeps.tracking import KIND_TAG, SweepTracker

from .conftest import armington_spec, free_port

HETSPACE = [sys.executable, "-m", "hetspace.cli"]


def _write(tmp_path: Path, spec: dict, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def test_sweep_command_prints_progress_table_and_locations(ray_session, tmp_path) -> None:
    spec = _write(tmp_path, armington_spec(name="cli"))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(out), "--num-actors", "2"])
    assert result.exit_code == 0, result.output
    assert "12 points: 12 evaluated, 0 already stored, 0 failed" in result.output
    assert ("Welfare index (w/P) by Elasticity of substitution σ (rows) and "
            "Migration elasticity κ (columns)") in result.output
    assert f"plots:   {out.resolve() / 'plots'}" in result.output
    assert "MLflow:  sqlite:///" in result.output
    again = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(out)])
    assert "0 evaluated, 12 already stored" in again.output
    for fmt, marker in (("md", "| Elasticity of substitution σ | 0.5 | 1 | 2 |"),
                        ("tex", r"\toprule"),
                        ("csv", "moment,Elasticity of substitution σ,0.5,1.0,2.0")):
        table = CliRunner().invoke(app, ["table", str(out), "--format", fmt])
        assert table.exit_code == 0 and marker in table.output, table.output
    one = CliRunner().invoke(app, ["table", str(out), "-m", "real_wage_min", "-f", "md"])
    assert "Welfare" not in one.output and "Lowest real wage (w/P) by Elasticity" in one.output
    runs = CliRunner().invoke(app, ["runs", str(tmp_path)])
    assert runs.exit_code == 0 and "cli" in runs.output and "FINISHED" in runs.output


def test_bad_spec_and_bad_folder_are_one_line_errors(tmp_path) -> None:
    spec = _write(tmp_path, armington_spec(grid={"sigma": [2.0, -1]}))
    result = CliRunner().invoke(app, ["sweep", str(spec)])
    assert result.exit_code == 2
    assert "error: " in result.stderr
    assert "sweep.grid.sigma[1]: must be > 1, got -1" in result.stderr
    result = CliRunner().invoke(app, ["table", str(tmp_path)])
    assert result.exit_code == 2 and "is not a sweep output folder" in result.stderr


def test_address_auto_without_a_cluster_fails_fast(tmp_path) -> None:
    # RAY_ADDRESS names where `auto` must look (unset, Ray would join any Ray instance it
    # finds on this machine, such as this test session's own)
    spec = _write(tmp_path, armington_spec())
    env = {**os.environ, "RAY_ADDRESS": f"127.0.0.1:{free_port()}"}
    t0 = time.monotonic()
    done = subprocess.run([*HETSPACE, "sweep", str(spec), "--address", "auto", "--out",
                           str(tmp_path / "out")], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1, done.stderr
    assert "no running Ray cluster found at address 'auto' (RAY_ADDRESS=127.0.0.1:" in done.stderr
    assert time.monotonic() - t0 < 60  # no local instance was started instead
    assert not (tmp_path / "out").exists()  # found before anything was written


def _start_slow_sweep(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    spec = _write(tmp_path, armington_spec(name="slow", debug={"sleep": 0.4}))
    out = tmp_path / "out"
    proc = subprocess.Popen([*HETSPACE, "sweep", str(spec), "--out", str(out),
                             "--num-actors", "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list((out / "results").glob("part-*.parquet")):  # some rows are stored
        assert proc.poll() is None and time.monotonic() < deadline, "sweep did not start"
        time.sleep(0.1)
    return proc, out


def _reap(proc: subprocess.Popen) -> None:
    """Kill what is left of the process group this test started (the driver's own Ray)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def _runs(out: Path) -> list:
    client = MlflowClient(tracking_uri=f"sqlite:///{out.resolve() / 'mlflow.db'}")
    exp = client.get_experiment_by_name("slow")
    return client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_killed_driver_resumes_and_stores_each_point_once(ray_session, tmp_path, sig) -> None:
    proc, out = _start_slow_sweep(tmp_path)
    try:
        os.kill(proc.pid, sig)
        proc.wait(timeout=60)
    finally:
        _reap(proc)
    stored = load_results(out)
    assert 0 < len(stored) < 12 and stored["key"].is_unique
    if sig == signal.SIGTERM:
        assert proc.returncode == 130
        assert _runs(out)[0].info.status == "KILLED"
    spec = SweepSpec.from_dict(armington_spec(name="slow"))
    resumed = run_sweep(spec, out, plots=False)
    assert resumed.n_skipped == len(stored) and resumed.n_evaluated == 12 - len(stored)
    final = load_results(out)
    assert len(final) == 12 and final["key"].is_unique and set(final["status"]) == {"ok"}
    assert not list((out / "results").glob("part-*.parquet"))  # consolidated
    assert [r.info.status for r in _runs(out)] == ["KILLED", "FINISHED"]


def _wait_for(proc: subprocess.Popen, ready, what: str) -> None:
    deadline = time.monotonic() + 120
    while not ready():
        assert proc.poll() is None and time.monotonic() < deadline, f"never reached: {what}"
        time.sleep(0.05)


def _raylet_runs(proc: subprocess.Popen) -> bool:
    import psutil

    return any(c.name().startswith("raylet") for c in psutil.Process(proc.pid).children(True))


def _very_slow_sweep(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """A sweep just started whose points take 5 s each (nothing stored for a while)."""
    spec = _write(tmp_path, armington_spec(name="slow", debug={"sleep": 5.0}))
    out = tmp_path / "out"
    return subprocess.Popen([*HETSPACE, "sweep", str(spec), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True), out


@pytest.mark.parametrize("when", ["ray_starting", "actors_starting"])
def test_sigterm_before_any_point_is_the_interrupted_line(tmp_path, when) -> None:
    # ray.init put Ray's C++ handler in place of the sweep's: a stack dump and an abort
    # (exit 134), or exit 15 and no word while Ray started, instead of the line below
    proc, out = _very_slow_sweep(tmp_path)
    try:
        if when == "ray_starting":
            _wait_for(proc, lambda: (out / "sweep.json").exists(), "the spec written")
        else:
            _wait_for(proc, lambda: _raylet_runs(proc), "a running raylet")
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        _reap(proc)
    assert proc.returncode == 130, stderr
    assert stderr == (f"error: interrupted; stored points are kept in {out.resolve()}, run the "
                      "same command again to resume\n")


def _listening(proc: subprocess.Popen) -> set[tuple[str, str, int]]:
    import psutil

    seen = set()
    for p in [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            seen |= {(p.name(), c.laddr.ip, c.laddr.port) for c in p.net_connections("inet")
                     if c.status == psutil.CONN_LISTEN}
    return seen


def test_the_local_ray_listens_on_loopback_only(tmp_path) -> None:
    # GCS and raylet listened on every interface, the monitor and the agents' metrics on
    # 0.0.0.0: a laptop's sweep was reachable from its network
    proc, _out = _very_slow_sweep(tmp_path)
    try:
        # a point is being solved: actors, workers and agents are all up
        _wait_for(proc, lambda: any(n.startswith("ray::SteadyStateActor")
                                    for n, _, _ in _listening(proc)), "an actor listening")
        listening = _listening(proc)
    finally:
        _reap(proc)
    assert {"gcs_server", "raylet"} <= {n for n, _, _ in listening}
    exposed = {s for s in listening if s[1] not in ("127.0.0.1", "::1", "::ffff:127.0.0.1")}
    assert not exposed, exposed

# ------------------------------------------------------------ more actors than the CPUs


def test_more_actors_than_cpus_are_capped_loudly(tmp_path) -> None:
    # used to wait forever after the header: Ray cannot place the actors beyond its CPUs.
    # Its own Ray (a subprocess) so that a regression fails on the timeout, not hangs.
    spec = _write(tmp_path, armington_spec(name="many"))
    out = tmp_path / "out"
    done = subprocess.run([*HETSPACE, "sweep", str(spec), "--out", str(out), "--num-actors",
                           "100000"], capture_output=True, text=True, timeout=240,
                          env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    cpus = os.cpu_count()
    assert (f"100000 actors of 1 CPU(s) each need 100000 CPUs but the Ray cluster has {cpus}; "
            f"starting {cpus} actors") in done.stderr
    assert "12 points: 12 evaluated" in done.stdout
    assert len(load_results(out)) == 12


def test_cpus_per_actor_beyond_the_cluster_is_a_config_error(ray_session, tmp_path) -> None:
    spec = _write(tmp_path, armington_spec(resources={"cpus_per_actor": 64}))
    result = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (f"error: {spec}: resources.cpus_per_actor is 64, but the "
                                     "Ray cluster has 2 CPUs, so no actor could ever start; "
                                     "lower cpus_per_actor")
    assert not (tmp_path / "out").exists()  # found before anything was written


def test_actors_ray_cannot_place_are_an_error_after_the_timeout(ray_session) -> None:
    pool = SteadyStatePool("armington", 1, cpus_per_actor=3)  # the session has 2 CPUs
    try:
        with pytest.raises(ActorsNotReadyError, match=r"1 of 1 actors \(3 CPU\(s\) each\) did "
                           r"not start within 2 s; the Ray cluster has [\d.]+ of 2 CPUs free"):
            pool.wait_ready(timeout=2.0)
    finally:
        pool.shutdown()


def test_actors_that_never_start_leave_no_output_folder(ray_session, tmp_path,
                                                       monkeypatch) -> None:
    # the sweep or study made its folder (spec, MLflow store, empty journal) before Ray
    # had to place the actors; when they never start nothing is there to resume
    import ray

    from hetspace.estimation import EstimationSpec, estimate
    from hetspace.sweeps import pool

    from ..estimation.conftest import huggett_spec

    monkeypatch.setattr(pool, "READY_TIMEOUT", 2.0)
    hog = ray.remote(num_cpus=2)(_Hog).remote()  # every CPU of the session's Ray
    ray.get(hog.ready.remote())
    try:
        with pytest.raises(ActorsNotReadyError, match="did not start within 2 s"):
            run_sweep(SweepSpec.from_dict(armington_spec(name="hog")), tmp_path / "s" / "out",
                      plots=False)
        with pytest.raises(ActorsNotReadyError, match="did not start within 2 s"):
            estimate(EstimationSpec.from_dict(huggett_spec("hog")), tmp_path / "e" / "out")
    finally:
        ray.kill(hog)
    assert list(tmp_path.iterdir()) == []


class _Hog:
    def ready(self) -> bool:
        return True


# ------------------------------------------------ misuse found before any work begins


class _NotMlflow(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_error(404)

    def log_message(self, *args) -> None:
        pass


def test_tracking_server_that_is_not_mlflow_is_an_error_before_ray(tmp_path) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _NotMlflow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        uri = f"http://127.0.0.1:{server.server_port}"
        spec = _write(tmp_path, armington_spec(tracking={"tracking_uri": uri}))
        out = tmp_path / "out"
        result = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(out)])
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == (f"error: {spec}: tracking.tracking_uri {uri!r}: the server "
                                     "there answers 404 to MLflow's REST API "
                                     "(/api/2.0/mlflow/...): is it an MLflow tracking server?")
    assert not out.exists()


@pytest.mark.parametrize("below", ["", "sub"], ids=["file", "below-a-file"])
def test_out_that_cannot_be_a_folder_is_exit_4(tmp_path, below) -> None:
    spec = _write(tmp_path, armington_spec())
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    out = blocker / below if below else blocker
    result = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(out)])
    assert result.exit_code == 4, result.output
    assert result.stderr.strip() == (f"error: cannot write outputs to {out}: {blocker} is not "
                                     "a folder")
    assert blocker.read_text() == "not a folder"


# ------------------------------------------------------------------------- hetspace runs


def test_runs_on_a_missing_folder_or_store_is_exit_2_and_creates_nothing(tmp_path,
                                                                         monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["runs", "o/nosuch"])
    assert result.exit_code == 2 and result.stderr == "error: o/nosuch: no such folder\n"
    uri = "sqlite:///new/folder/x.db"
    result = CliRunner().invoke(app, ["runs", "--tracking-uri", uri])
    assert result.exit_code == 2
    assert result.stderr == f"error: --tracking-uri {uri}: no such database file\n"
    result = CliRunner().invoke(app, ["runs", "--tracking-uri", "nonsense:///x"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --tracking-uri: unknown scheme 'nonsense'")
    assert list(tmp_path.iterdir()) == []


def test_runs_lists_the_readable_stores_and_names_a_broken_one(tmp_path) -> None:
    good = tmp_path / "good"
    tracker = SweepTracker(name="listed", experiment=None, out_dir=good)
    tracker.start({"model": "armington"})
    tracker.finish("FINISHED", {"n_points": 3, "n_failed": 0}, [])
    study = SweepTracker(name="studied", experiment=None, out_dir=tmp_path / "est")
    study.start({"model": "armington"})
    study.client.set_tag(study.run_id, KIND_TAG, "estimation")  # as estimation's report does
    study.finish("KILLED", {}, [])
    broken = tmp_path / "broken" / "mlflow.db"
    broken.parent.mkdir()
    broken.write_text("not a database")
    result = CliRunner().invoke(app, ["runs", str(tmp_path)], env={"COLUMNS": "300"})
    assert result.exit_code == 1, result.output
    assert "listed" in result.stdout and "FINISHED" in result.stdout
    assert tracker.run_id in result.stdout
    assert "studied" in result.stdout and "estimation" in result.stdout
    assert study.run_id in result.stdout and "KILLED" in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: cannot read the MLflow store sqlite:///{broken}: ")
    assert "file is not a database" in lines[0]


def test_runs_without_folders_says_it_searched_out_only(tmp_path, monkeypatch) -> None:
    # after `sweep --out elsewhere`, `runs` listed ./out with no word of other folders
    monkeypatch.chdir(tmp_path)
    hint = "(name the folders your sweeps wrote to: hetspace runs DIR ...)"
    result = CliRunner().invoke(app, ["runs"])
    assert result.exit_code == 0
    assert result.stdout == f"no sweep or estimation runs found in out {hint}\n"
    tracker = SweepTracker(name="here", experiment=None, out_dir=tmp_path / "out" / "s")
    tracker.start({"model": "armington"})
    tracker.finish("FINISHED", {"n_points": 1, "n_failed": 0}, [])
    result = CliRunner().invoke(app, ["runs"], env={"COLUMNS": "300"})
    assert result.exit_code == 0 and "here" in result.stdout
    assert result.stdout.endswith("searched out/ only; runs written elsewhere with --out: "
                                  "hetspace runs DIR ...\n")
    named = CliRunner().invoke(app, ["runs", "out"], env={"COLUMNS": "300"})
    assert "here" in named.stdout and "searched" not in named.stdout


def test_unknown_moment_is_a_config_error_at_load(tmp_path) -> None:
    # used to solve every point first (a model's ModelSpec now names its moments)
    spec = _write(tmp_path, armington_spec(name="nomoment", moments=["welfare", "welfar"]))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"error: {spec}: line 37: sweep.moments[1]: 'welfar' is not a moment of armington "
        "(did you mean 'welfare'?); its moments: real_wage_mean, real_wage_min, real_wage_max, "
        "domestic_share_mean, trade_openness, welfare\n")
    assert not out.exists()


def test_unknown_moment_of_an_unnamed_model_stops_at_the_first_point_and_ends_the_run_failed(
        ray_session, tmp_path) -> None:
    # a model without ModelSpec.moment_names is checked once a point has solved: the sweep
    # used to solve every point, then fail with a traceback, the MLflow run left RUNNING
    base = SweepSpec.from_dict(armington_spec(name="nomoment"))
    spec = dataclasses.replace(base, moments=("welfare", "not_a_moment"),
                               model=dataclasses.replace(base.model, moment_names=None))
    out = tmp_path / "out"
    with pytest.raises(InvalidConfigError) as info:
        run_sweep(spec, out, plots=False)
    assert list(info.value.problems) == [
        "sweep.moments: 'not_a_moment' is not a moment of armington; its moments: "
        "real_wage_mean, real_wage_min, real_wage_max, domestic_share_mean, trade_openness, "
        "welfare"]
    client = MlflowClient(tracking_uri=f"sqlite:///{out.resolve() / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("nomoment").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]
    assert not (out / "tables").exists()


def test_runs_skips_a_folder_named_mlflow_db_and_reads_no_empty_uri(tmp_path) -> None:
    # MLflow retried forever on a folder named mlflow.db; run apart so a regression fails
    (tmp_path / "d" / "mlflow.db").mkdir(parents=True)
    done = subprocess.run([*HETSPACE, "runs", str(tmp_path / "d")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"no sweep or estimation runs found in {tmp_path / 'd'}"
    result = CliRunner().invoke(app, ["runs", "--tracking-uri", ""])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --tracking-uri: must not be empty")


@pytest.mark.parametrize(("name", "content", "message"), [
    ("sweep.json", "{not json", "sweep.json: cannot be read as JSON (Expecting property name"),
    ("sweep.json", "{}", "sweep.json: is not a sweep's sweep.json: it lacks axes, moments"),
    ("results.parquet", "truncated", "results.parquet: cannot be read as Parquet ("),
])
def test_table_of_a_damaged_folder_is_one_error_line(tmp_path, name, content, message) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "sweep.json").write_text('{"axes": ["sigma"], "moments": []}')
    (out / name).write_text(content)
    result = CliRunner().invoke(app, ["table", str(out)])
    assert result.exit_code in (1, 2), result.output
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert "Traceback" not in result.output and len(result.stderr.splitlines()) == 1
