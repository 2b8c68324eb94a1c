"""hetspace.estimation: moment matching and indirect inference with Optuna (DESIGN.md section 4).

```python
from hetspace.estimation import load_estimation_spec, estimate
spec = load_estimation_spec("configs/estimation/calibration_huggett.yaml")
result = estimate(spec, "out/estimation/calibration_huggett")
result.estimates, result.inference.se
```

Modules: ``spec`` (estimation specs), ``targets`` (the targets section: inline values,
synthetic data, panel files, spatial data; W and Omega), ``data`` (household panel
files: schema, reading, writing, bootstrap covariance), ``locations`` (location
moments shared by SpatialData and the model), ``transforms`` (bounds, log/logit search
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
from .locations import LOCATION_MOMENTS, location_moments, spatial_data_moments
from .objective import STATISTICS, Objective, PanelArrays, Simulation, panel_from_simulation
from .spec import EstimationSpec, load_estimation_spec
from .study import StudyExistsError
from .transforms import Parameter

__all__ = ["LOCATION_MOMENTS", "STATISTICS", "EstimationResult", "EstimationSpec", "Inference",
           "Objective", "PanelArrays", "PanelError", "Parameter", "Simulation",
           "StudyChangedError", "StudyExistsError", "bootstrap_covariance", "estimate",
           "identification", "j_test",
           "load_estimation_spec", "location_moments", "panel_from_simulation", "read_panel",
           "sandwich", "spatial_data_moments", "write_panel"]
