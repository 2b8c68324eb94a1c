"""MLflow tracking of sweeps: the driver alone logs (DESIGN.md section 5).

Default store: a SQLite database in the sweep's output folder
(``sqlite:///<out>/mlflow.db``, artifacts in ``<out>/mlartifacts``), created
once by the driver before the fan-out; ``tracking.tracking_uri`` in the spec
points elsewhere (e.g. a shared MLflow server on a cluster). One parent run
per sweep invocation carries params (model, axes, sizes), tags (hetspace
version, git commit, output folder), final metrics (points, failures, wall
time) and artifacts: the spec, the Parquet results and a CSV copy (the
per-point table), robustness tables, plots and ``environment.json``.

Per-point child runs are opt-in (``tracking.child_runs: true``): against
SQLite each costs ~30 ms of driver time, more than a warm workhorse solve,
so by default the points are logged as the table artifact. A run stopped by
SIGINT or SIGTERM ends as KILLED; a run left RUNNING by a SIGKILLed driver is
marked KILLED by the next run in the same folder.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hetspace.core.errors import HetspaceError

if TYPE_CHECKING:
    from .actors import Evaluation

logger = logging.getLogger(__name__)

KIND_TAG = "hetspace.kind"
OUT_TAG = "hetspace.out_dir"
PACKAGES = ("hetspace", "numpy", "scipy", "numba", "ray", "mlflow", "optuna", "pandas",
            "pyarrow", "pydantic", "matplotlib")


#: URI schemes MLflow can track to (a database scheme may carry a driver: postgresql+psycopg2)
TRACKING_SCHEMES = ("file", "sqlite", "http", "https", "postgresql", "mysql", "mssql",
                    "databricks")
#: seconds a tracking server has to accept a connection before a run starts
PROBE_TIMEOUT = 5.0


class TrackingUnreachableError(HetspaceError, ConnectionError):
    """``tracking.tracking_uri`` names an MLflow server that does not answer."""


def tracking_uri_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be an MLflow tracking URI (None: it can). No network access."""
    if not uri.strip():
        return "must not be empty (leave it out for the store in the output folder)"
    parsed = urllib.parse.urlsplit(uri)
    scheme = parsed.scheme.split("+")[0].lower()
    if not parsed.scheme:
        return None  # a local folder (MLflow's file store)
    if scheme not in TRACKING_SCHEMES:
        return (f"unknown scheme {parsed.scheme!r}; use one of "
                f"{', '.join(s + '://' for s in TRACKING_SCHEMES)}, or a folder")
    if scheme in ("http", "https") and not parsed.hostname:
        return "names no host (expected http://host:port)"
    if scheme == "sqlite" and uri.startswith("sqlite:///") and uri != "sqlite:///:memory:":
        folder = Path(uri.removeprefix("sqlite:///")).parent
        if not folder.is_dir():  # (MLflow would make it, anywhere: sqlite:////x/y.db made /x)
            return f"names a database in {folder}, which is not a folder"
    return None


def _check_mlflow_sqlite(path: Path) -> None:
    """ValueError unless the SQLite file at ``path`` holds an MLflow store (opened
    read-only: MLflow would create its tables in an empty file or in another program's
    database)."""
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro",
                                            uri=True)) as db:
        tables = {name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {"experiments", "runs", "alembic_version"} <= tables:
        what = "is empty" if not tables else "has tables of another program"
        raise ValueError(f"{path} {what}, not an MLflow store (runs lists stores, it "
                         "never creates or changes them)")


def check_reachable(uri: str, timeout: float = PROBE_TIMEOUT) -> None:
    """Raise :class:`TrackingUnreachableError` unless an http(s) tracking server answers
    MLflow's REST API within ``timeout`` seconds (MLflow itself retries for minutes).

    Any answer but "not found" counts (an answer asking for credentials too: MLflow
    sends them later); other schemes are not checked here.
    """
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme.lower() not in ("http", "https"):
        return
    url = uri.rstrip("/") + "/api/2.0/mlflow/experiments/search?max_results=1"
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            pass
    except urllib.error.HTTPError as e:
        if e.code == 404:
            raise TrackingUnreachableError(
                f"tracking.tracking_uri {uri!r}: the server there answers 404 to MLflow's "
                "REST API (/api/2.0/mlflow/...): is it an MLflow tracking server?") from e
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        why = "timed out" if isinstance(reason, TimeoutError) else (
            getattr(reason, "strerror", None) or str(reason))
        raise TrackingUnreachableError(
            f"tracking.tracking_uri {uri!r}: no MLflow server answers within {timeout:g} s "
            f"({why}); start it, or leave tracking_uri out to use the store in the "
            "output folder") from e


def default_tracking_uri(out_dir: str | os.PathLike[str]) -> str:
    """The embedded store of a sweep: a SQLite database in its output folder."""
    return f"sqlite:///{Path(out_dir).resolve() / 'mlflow.db'}"


class SweepTracker:
    """The parent run of one sweep invocation (MlflowClient; no global active run)."""

    def __init__(self, *, name: str, experiment: str | None, out_dir: Path,
                 tracking_uri: str | None = None, child_runs: bool = False):
        self.name = name
        self.experiment = experiment or name
        self.out_dir = Path(out_dir).resolve()
        self.uri = tracking_uri or default_tracking_uri(self.out_dir)
        self.child_runs = child_runs
        self.client: Any = None
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self.seconds = 0.0

    def start(self, params: Mapping[str, Any]) -> str:
        """Create the store (if new) and experiment, close stale runs, open the parent run."""
        t0 = time.perf_counter()
        for noisy in ("alembic", "mlflow.store.db.utils"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        from .mlflow_template import prepare_sqlite_store

        prepare_sqlite_store(self.uri)  # a new store: a copy, not MLflow's migrations
        self.client = MlflowClient(tracking_uri=self.uri)
        try:
            self.experiment_id = self._experiment()
        except MlflowException as e:
            message = " ".join(str(e).split())[:300]
            raise TrackingUnreachableError(f"MLflow store {self.uri}: {message}") from e
        self._close_stale_runs()
        tags = {"mlflow.runName": self.name, KIND_TAG: "sweep", OUT_TAG: str(self.out_dir),
                "hetspace.pid": str(os.getpid()), "hetspace.host": socket.gethostname(),
                "hetspace.version": _version(), "git.commit": git_commit() or "unknown"}
        run = self.client.create_run(self.experiment_id, tags=tags)
        self.run_id = run.info.run_id
        self._log_params(self.run_id, params)
        self.seconds += time.perf_counter() - t0
        return self.run_id

    def log_point(self, labels: Mapping[str, Any], evaluation: Evaluation) -> None:
        """One child run per point (only with ``child_runs``)."""
        if not self.child_runs or self.run_id is None:
            return
        from mlflow.entities import Metric

        t0 = time.perf_counter()
        tags = {"mlflow.parentRunId": self.run_id, "mlflow.runName": evaluation.key[:12],
                "status": evaluation.status.value}
        child = self.client.create_run(self.experiment_id, tags=tags)
        now = int(time.time() * 1000)
        values = {**evaluation.moments, "t_solve": evaluation.t_solve,
                  **{f"diagnostics.{k}": v for k, v in evaluation.diagnostics.items()}}
        metrics = [Metric(k, float(v), now, 0) for k, v in values.items() if _is_number(v)]
        self._log_params(child.info.run_id, labels, metrics)
        status = "FINISHED" if evaluation.ok else "FAILED"
        self.client.set_terminated(child.info.run_id, status)
        self.seconds += time.perf_counter() - t0

    def finish(self, status: str, metrics: Mapping[str, float], artifacts: list[Path]) -> None:
        """Log final metrics and artifacts, end the run as FINISHED, FAILED or KILLED."""
        if self.run_id is None:
            return
        from mlflow.entities import Metric

        t0 = time.perf_counter()
        now = int(time.time() * 1000)
        try:
            batch = [Metric(k, float(v), now, 0) for k, v in metrics.items() if _is_number(v)]
            self.client.log_batch(self.run_id, metrics=batch)
            for path in artifacts:
                if path.is_dir():
                    self.client.log_artifacts(self.run_id, str(path), path.name)
                elif path.exists():
                    self.client.log_artifact(self.run_id, str(path))
        finally:
            self.client.set_terminated(self.run_id, status)
            self.seconds += time.perf_counter() - t0

    def _experiment(self) -> str:
        found = self.client.get_experiment_by_name(self.experiment)
        if found is not None:
            return found.experiment_id
        location = None
        if self.uri.startswith("sqlite:///") and self.uri == default_tracking_uri(self.out_dir):
            location = (self.out_dir / "mlartifacts").as_uri()
        return self.client.create_experiment(self.experiment, artifact_location=location)

    def _close_stale_runs(self) -> None:
        """Mark KILLED the RUNNING runs of this folder whose driver (on this host) is gone."""
        runs = self.client.search_runs(
            [self.experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=100)
        for run in runs:
            tags = run.data.tags
            same = tags.get(OUT_TAG) == str(self.out_dir)
            here = tags.get("hetspace.host") == socket.gethostname()
            if same and here and not pid_alive(int(tags.get("hetspace.pid", "0") or 0)):
                logger.info("marking stale run %s KILLED", run.info.run_id)
                self.client.set_terminated(run.info.run_id, "KILLED")

    def _log_params(self, run_id: str, params: Mapping[str, Any], metrics=()) -> None:
        from mlflow.entities import Param

        plist = [Param(str(k), _short(v)) for k, v in params.items()]
        self.client.log_batch(run_id, metrics=list(metrics), params=plist)


def list_runs(tracking_uris: list[str], limit: int = 20,
              errors: list[str] | None = None) -> list[dict[str, Any]]:
    """Recent sweep and estimation runs (newest first) from the given stores.

    ``errors``: if given, a store that cannot be read is skipped and appended to it
    as ``"<uri>: <reason>"``; if None, its error propagates.
    """
    rows = []
    for uri in tracking_uris:
        try:
            runs = _sweep_runs(uri, limit)
        except Exception as e:
            if errors is None:
                raise
            errors.append(f"{uri}: {' '.join(str(e).split())[:300]}")
            continue
        for run in runs:
            m = run.data.metrics
            rows.append({"start": run.info.start_time, "name": run.info.run_name,
                         "kind": run.data.tags.get(KIND_TAG, ""),
                         "status": run.info.status, "points": m.get("n_points"),
                         "failed": m.get("n_failed"), "wall_s": m.get("wall_seconds"),
                         "out_dir": run.data.tags.get(OUT_TAG, ""), "run_id": run.info.run_id,
                         "store": uri})
    rows.sort(key=lambda r: r["start"] or 0, reverse=True)
    return rows[:limit]


def _sweep_runs(uri: str, limit: int) -> list[Any]:
    if not uri.startswith("sqlite:///"):
        return _search_runs(uri, limit)
    path = Path(uri.removeprefix("sqlite:///"))
    _check_mlflow_sqlite(path)
    from .mlflow_template import current_revision, schema_revision

    if schema_revision(path) == current_revision():
        return _search_runs(uri, limit)
    # a store of another MLflow version: MLflow would upgrade its schema in place when
    # opening it (an older MLflow could no longer read it), so it reads a copy
    with tempfile.TemporaryDirectory(prefix="hetspace-runs-") as tmp:
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        return _search_runs(f"sqlite:///{copy}", limit)


def _search_runs(uri: str, limit: int) -> list[Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiments = client.search_experiments()
    if not experiments:
        return []
    runs = []
    for kind in ("sweep", "estimation"):
        runs += client.search_runs([e.experiment_id for e in experiments],
                                   filter_string=f"tags.`{KIND_TAG}` = '{kind}'",
                                   order_by=["attributes.start_time DESC"], max_results=limit)
    return runs


def environment_info() -> dict[str, Any]:
    """Python, platform, versions of the packages that matter, and the git commit."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"python": sys.version, "platform": platform.platform(), "packages": versions,
            "git_commit": git_commit(), "git_dirty": git_dirty()}


def git_commit() -> str | None:
    """The commit of the hetspace checkout (editable installs), or None."""
    return _git("rev-parse", "HEAD")


def git_dirty() -> bool | None:
    out = _git("status", "--porcelain", "--untracked-files=no")
    return None if out is None else bool(out)


def _git(*args: str) -> str | None:
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return None
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def _version() -> str:
    from hetspace._version import __version__

    return __version__


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (a lock or a RUNNING run's owner)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 500 else text[:497] + "..."


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
