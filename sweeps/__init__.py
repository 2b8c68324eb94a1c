"""hetspace.sweeps: Ray actors, sweep specs, result store, tracking, tables (not yet built)."""
