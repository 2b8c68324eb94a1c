"""New embedded MLflow stores from a migrated empty database, not from MLflow's migrations.

MLflow creates a new SQLite store by running every one of its schema migrations
(alembic): 3-8 s on 2 shared cores, the largest part of a sweep's set-up after
Ray's start (``benchmarks/startup.py``). The result is the same empty database
each time, so it is made once per MLflow version, kept in the user's cache folder
(``$XDG_CACHE_HOME/hetspace``, default ``~/.cache/hetspace``) and copied for every
new store (milliseconds). The template holds MLflow's tables at its schema head
and no rows of ours: its Default experiment (id 0) is deleted, because its
artifact location names the folder the template was made in; MLflow creates it
again, with the new store's location, when it opens the copy.

``make install`` makes the template (``python -m hetspace.sweeps.mlflow_template``),
so that even the first sweep after an install copies it.

Anything that goes wrong here (no cache folder, a read-only home, a changed
MLflow schema) only costs the time saved: MLflow then creates the store itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import tempfile
from importlib import metadata
from pathlib import Path

logger = logging.getLogger(__name__)

PREFIX = "sqlite:///"


def prepare_sqlite_store(uri: str) -> bool:
    """If ``uri`` names a SQLite store that does not exist yet, create it as a copy of
    the template (made first if missing). True if a copy was made."""
    if not uri.startswith(PREFIX):
        return False
    target = Path(uri.removeprefix(PREFIX))
    if target.exists() or not target.parent.is_dir():
        return False
    try:
        template = _template()
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".mlflow-", suffix=".db")
        os.close(fd)
        try:
            shutil.copyfile(template, tmp)
            os.link(tmp, target)  # never replaces a store another process made meanwhile
        finally:
            os.unlink(tmp)
    except (OSError, sqlite3.Error, ImportError) as e:
        logger.debug("no MLflow store template (%s); MLflow creates the store", e)
        return False
    return True


def schema_revision(path: Path) -> str | None:
    """The alembic revision of the MLflow store in the SQLite file ``path`` (opened
    read-only), None if it has none."""
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro",
                                            uri=True)) as db:
        try:
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            return None
    return None if row is None else str(row[0])


def current_revision() -> str | None:
    """The schema revision the installed MLflow writes (the template's)."""
    return schema_revision(_template())


def template_path() -> Path:
    """Where the template for the installed MLflow version is kept."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hetspace"
    return cache / f"mlflow-{metadata.version('mlflow')}-empty.db"


def make_template() -> Path:
    """The template for the installed MLflow version, made now if missing (``make
    install`` calls it, so that the first sweep finds it)."""
    return _template()


def _template() -> Path:
    path = template_path()
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        db = Path(tmp) / "mlflow.db"
        _migrate(f"{PREFIX}{db}")
        with contextlib.closing(sqlite3.connect(db)) as con, con:
            con.execute("DELETE FROM experiments WHERE experiment_id = 0")
        os.replace(db, path)  # atomic: concurrent makers each write a whole template
    logger.info("made the MLflow store template %s", path)
    return path


def _migrate(uri: str) -> None:
    """Let MLflow create its tables (all migrations) in the SQLite file of ``uri``."""
    for noisy in ("alembic", "mlflow.store.db.utils"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from mlflow.tracking import MlflowClient

    MlflowClient(tracking_uri=uri).search_experiments(max_results=1)


if __name__ == "__main__":  # python -m hetspace.sweeps.mlflow_template
    print(make_template())
