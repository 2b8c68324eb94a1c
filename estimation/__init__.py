"""hetspace.estimation: moment matching and indirect inference with Optuna (DESIGN.md section 4).

```python
from hetspace.estimation import load_estimation_spec, estimate
spec = load_estimation_spec("configs/estimation/calibration_huggett.yaml")
result = estimate(spec, "out/estimation/calibration_huggett")
result.estimates, result.inference.se
```

Modules: ``spec`` (estimation specs), ``transforms`` (bounds, log/logit search
coordinates), ``objective`` (Q = g'Wg; analytic or simulated moments; auxiliary
statistics), ``evaluate`` (the estimation actor and the driver's evaluator),
``study`` (Optuna ask/tell on the actors, journal storage, resume), ``driver``
(global search, least-squares polish, inference, records), ``inference``
(Jacobian, sandwich standard errors, J-test, identification), ``report``
(tables, plots, MLflow).
"""

from .driver import EstimationResult, estimate
from .inference import Inference, identification, j_test, sandwich
from .objective import STATISTICS, Objective, PanelArrays, Simulation
from .spec import EstimationSpec, load_estimation_spec
from .study import StudyExistsError
from .transforms import Parameter

__all__ = ["STATISTICS", "EstimationResult", "EstimationSpec", "Inference", "Objective",
           "PanelArrays", "Parameter", "Simulation", "StudyExistsError", "estimate",
           "identification", "j_test", "load_estimation_spec", "sandwich"]
