"""New embedded MLflow stores are copies of a migrated empty template (real MLflow)."""

from __future__ import annotations

import sqlite3

from mlflow.tracking import MlflowClient

from hetspace.sweeps.mlflow_template import prepare_sqlite_store, template_path
from hetspace.sweeps.tracking import SweepTracker, default_tracking_uri


def test_new_stores_are_copies_that_mlflow_opens_as_its_own(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert not template_path().exists()
    runs = []
    for name in ("first", "second"):
        out = tmp_path / name
        out.mkdir()
        tracker = SweepTracker(name=name, experiment="e", out_dir=out)
        runs.append(tracker.start({"n": 1}))
        tracker.finish("FINISHED", {"x": 1.0}, [])
    template = template_path()
    assert template.is_file()
    with sqlite3.connect(template) as con:  # the template holds no experiment, not even 0
        assert con.execute("SELECT COUNT(*) FROM experiments").fetchone() == (0,)
    for name, run_id in zip(("first", "second"), runs, strict=True):
        client = MlflowClient(default_tracking_uri(tmp_path / name))
        assert client.get_run(run_id).data.metrics == {"x": 1.0}
        assert client.get_experiment("0").name == "Default"  # made again by MLflow
        assert client.get_experiment_by_name("e").artifact_location.startswith(
            (tmp_path / name).as_uri())
    # an existing store is never replaced
    assert not prepare_sqlite_store(default_tracking_uri(tmp_path / "first"))


def test_without_a_usable_cache_mlflow_makes_the_store_itself(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    out = tmp_path / "out"
    out.mkdir()
    assert not prepare_sqlite_store(default_tracking_uri(out))
    assert not (out / "mlflow.db").exists()
    tracker = SweepTracker(name="s", experiment="e", out_dir=out)
    run_id = tracker.start({})
    tracker.finish("FINISHED", {}, [])
    assert MlflowClient(tracker.uri).get_run(run_id).info.status == "FINISHED"


def test_runs_reads_a_store_of_another_mlflow_version_from_a_copy(tmp_path) -> None:
    # MLflow upgrades an older store's schema when it opens it: `runs` listing it left it
    # unreadable to the MLflow that wrote it. A store one migration behind, made by
    # MLflow's own migrations, stays byte for byte as it was.
    import sqlalchemy
    from alembic import command
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config
    from mlflow.store.tracking.dbmodels.initial_models import Base

    from hetspace.sweeps.mlflow_template import current_revision, schema_revision
    from hetspace.sweeps.tracking import list_runs

    store = tmp_path / "old" / "mlflow.db"
    store.parent.mkdir()
    url = f"sqlite:///{store}"
    config = _get_alembic_config(url)
    older = ScriptDirectory.from_config(config).get_revision(current_revision()).down_revision
    engine = sqlalchemy.create_engine(url)
    Base.metadata.create_all(engine)  # as MLflow makes a store: its first tables, then
    with engine.begin() as connection:  # its migrations (here up to the one before last)
        config.attributes["connection"] = connection
        command.upgrade(config, older)
    engine.dispose()
    before = store.read_bytes()
    assert schema_revision(store) == older != current_revision()
    errors: list[str] = []
    assert list_runs([f"sqlite:///{store}"], errors=errors) == [] and errors == []
    assert store.read_bytes() == before
