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
``tracking`` (MLflow), ``tables`` (robustness tables and plots), ``cluster``
(local Ray or an existing cluster), ``runner`` (all of it), ``submit``
(the ``ray submit`` entry point).
"""

from .actors import SteadyStateActor, Task
from .cluster import ClusterNotFoundError, connect
from .points import Point, Shock, order_chains
from .pool import SteadyStatePool
from .runner import SweepLockedError, SweepResult, SweepTerminated, run_sweep
from .spec import SweepSpec, load_sweep_spec
from .store import ResultStore, load_results
from .tables import format_tables, plot_moments, robustness_tables, table_from_dir
from .tracking import list_runs

__all__ = [
    "ClusterNotFoundError",
    "Point",
    "ResultStore",
    "Shock",
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
    "run_sweep",
    "table_from_dir",
]
