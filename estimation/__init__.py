"""hetspace.estimation: moment matching and indirect inference with Optuna (not yet built)."""
