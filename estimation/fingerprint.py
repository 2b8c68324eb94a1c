"""What a study's trials mean: a fingerprint of the objective-defining parts of a spec.

An Optuna trial stores its search coordinates and the value Q of the objective
there. Both mean something only for the spec that made them: the model and its
baseline (params, numerics, seed), the free parameters (names, bounds and
transforms: the search coordinates), the targets (names, data values), the
weighting matrix, the method and the simulation settings. A study keeps short
hashes of these parts in its user attribute ``FINGERPRINT``; resuming it with a
spec whose parts differ raises :class:`StudyChangedError` naming the parts that
changed, instead of mixing trials scored against two objectives. The budget,
the sampler, resources and tracking may change between sessions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import optuna

from hetspace.core.errors import HetspaceError
from hetspace.core.protocol import to_plain

FINGERPRINT = "hetspace.objective"


class StudyChangedError(HetspaceError, RuntimeError):
    """The stored study was begun with a spec whose objective differs from this one's."""


def objective_fingerprint(spec: Any) -> dict[str, str]:
    """Part name -> 16-hex hash of that part of ``spec`` (an :class:`EstimationSpec`)."""
    obj = spec.objective
    parts = {
        "model": spec.model.name,
        "baseline": [_record(spec.params), _record(spec.numerics)],
        "seed": spec.seed,
        "parameters": [[p.name, p.lower, p.upper, p.transform] for p in spec.parameters],
        "targets": [list(obj.names), obj.data.tolist()],
        "weighting": obj.W.tolist(),
        "method": spec.method,
        "simulation": dataclasses.asdict(spec.simulation) if spec.simulation else None,
    }
    return {name: _hash(value) for name, value in parts.items()}


def check_objective(study: optuna.Study, spec: Any, where: str) -> None:
    """Record the fingerprint of ``spec`` in a study that has none; raise
    :class:`StudyChangedError` if the study holds a different one (``where``: the
    study's location, for the message)."""
    current = objective_fingerprint(spec)
    stored = study.user_attrs.get(FINGERPRINT)
    if stored is None:
        study.set_user_attr(FINGERPRINT, current)
        return
    changed = [name for name in current if stored.get(name) != current[name]]
    changed += [name for name in stored if name not in current]
    if changed:
        n = len(study.get_trials(deepcopy=False))
        raise StudyChangedError(
            f"cannot resume the study in {where}: the spec's {', '.join(changed)} changed "
            f"since it began, so its {n} trials were scored against another objective; "
            "estimate into another --out, or delete the study to start over")


def _record(obj: Any) -> Any:
    fingerprint = getattr(obj, "fingerprint", None)
    return fingerprint() if callable(fingerprint) else to_plain(obj)


def _hash(value: Any) -> str:
    text = json.dumps(to_plain(value), sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
