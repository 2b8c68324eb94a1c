"""hetspace.estimation: moment matching and indirect inference with Optuna (DESIGN.md section 4).

```python
from hetspace.estimation import load_estimation_spec, estimate
spec = load_estimation_spec("configs/estimation/calibration_huggett.yaml")
result = estimate(spec, "out/estimation/calibration_huggett")
result.estimates, result.inference.se
```

The package names no model: simulated household panels and observed data come from
the model's hooks (``ModelSpec.panel``, ``ModelSpec.observed``), its own simulated
statistics from ``ModelSpec.simulate``.

Modules: ``spec`` (estimation specs), ``targets`` (the targets section: inline values,
synthetic data, panel files, spatial data; W and Omega), ``data`` (household panel
files: schema, reading, writing, bootstrap covariance), ``transforms`` (bounds, log/logit search
coordinates), ``objective`` (Q = g'Wg; analytic or simulated moments; auxiliary
statistics), ``evaluate`` (the estimation actor and the driver's evaluator),
``study`` (Optuna ask/tell on the actors, journal storage, resume), ``fingerprint``
(what a study's trials mean: a resumed study refuses a changed objective), ``driver``
(global search, least-squares polish, inference, records), ``inference``
(Jacobian, sandwich standard errors, J-test, identification), ``report``
(tables, plots, MLflow), ``earnings_process`` (GMM of the Huggett-Kaplan earnings process
from autocovariances of a panel) and ``earnings_spec`` (its specs, ``kind:
earnings_process``, which ``hetspace estimate`` runs in-process; ``spec.load_spec``
loads either kind).
"""

from .data import PanelError, bootstrap_covariance, read_panel, write_panel
from .driver import EstimationResult, estimate
from .fingerprint import StudyChangedError
from .inference import Inference, identification, j_test, sandwich
from .objective import STATISTICS, Objective, PanelArrays, Simulation
from .spec import EstimationSpec, load_estimation_spec
from .study import StudyExistsError
from .transforms import Parameter

__all__ = ["STATISTICS", "EstimationResult", "EstimationSpec", "Inference",
           "Objective", "PanelArrays", "PanelError", "Parameter", "Simulation",
           "StudyChangedError", "StudyExistsError", "bootstrap_covariance", "estimate",
           "identification", "j_test",
           "load_estimation_spec", "read_panel", "sandwich", "write_panel"]
