"""hetspace.sweeps: parameter sweeps on Ray (DESIGN.md section 3).

```python
from hetspace.sweeps import load_sweep_spec, run_sweep
spec = load_sweep_spec("configs/sweeps/quickstart.yaml")
result = run_sweep(spec)                       # embedded local Ray, MLflow in the output folder
result.results                                 # one row per point (pandas)
```

Modules: ``spec`` (sweep specs), ``points`` (expansion, hashes, chains),
``actors`` (the steady-state actor), ``pool`` (its Ray pool and queries),
``scheduler`` (driver-side ``ray.wait`` loop), ``store`` (Parquet results),
``tracking`` (MLflow; ``mlflow_template``: new stores copied from an empty one),
``tables`` (robustness tables and plots), ``maps`` (maps by location), ``report``
(the HTML report), ``cluster``
(local Ray or an existing cluster), ``runner`` (all of it), ``submit``
(the ``ray submit`` entry point).
"""

import importlib
from typing import Any

# Names are imported on first use (PEP 562): a Ray actor process unpickling
# ``hetspace.sweeps.actors.SteadyStateActor`` imports this package, and needs
# neither pandas nor the tables, the runner or MLflow (about 0.6 s less per actor).
_WHERE = {
    "SteadyStateActor": "actors", "Task": "actors", "Evaluation": "actors",
    "Status": "actors",
    "ClusterNotFoundError": "cluster", "connect": "cluster",
    "Point": "points", "Shock": "points", "order_chains": "points",
    "SteadyStatePool": "pool", "Event": "pool", "Kind": "pool",
    "Job": "scheduler", "run_jobs": "scheduler", "run_points": "scheduler",
    "SweepLockedError": "runner", "SweepResult": "runner", "SweepTerminated": "runner",
    "run_sweep": "runner",
    "SweepSpec": "spec", "load_sweep_spec": "spec",
    "ResultStore": "store", "load_results": "store",
    "format_tables": "tables", "plot_moments": "tables", "robustness_tables": "tables",
    "table_from_dir": "tables",
    "list_runs": "tracking",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


__all__ = [
    "ClusterNotFoundError",
    "Evaluation",
    "Event",
    "Job",
    "Kind",
    "Point",
    "ResultStore",
    "Shock",
    "Status",
    "SteadyStateActor",
    "SteadyStatePool",
    "SweepLockedError",
    "SweepResult",
    "SweepSpec",
    "SweepTerminated",
    "Task",
    "connect",
    "format_tables",
    "list_runs",
    "load_results",
    "load_sweep_spec",
    "order_chains",
    "plot_moments",
    "robustness_tables",
    "run_jobs",
    "run_points",
    "run_sweep",
    "table_from_dir",
]
