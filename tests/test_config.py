"""The model-config loader: every error names the file, the path in it and the line."""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from hetspace.core.config import (
    ModelConfig,
    atomic_write,
    build_summary,
    dump_model_config,
    dump_summary,
    load_model_config,
    write_solution_npz,
)
from hetspace.core.errors import InvalidConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO_ROOT / "configs" / "models").glob("*.yaml"))

TOY_OK = """\
model: toy_sqrt
description: square root of two
params:
  a: 2.0
  weights: [1.0, 3.0]
numerics:
  tol: 1.0e-13
"""


def problems_of(path: Path) -> tuple[InvalidConfigError, str]:
    with pytest.raises(InvalidConfigError) as info:
        load_model_config(path)
    return info.value, "\n".join(info.value.problems)


# ----------------------------------------------------------------------------- success


def test_valid_config_builds_params_and_numerics(toy_model, write_config):
    path = write_config(TOY_OK)
    cfg = load_model_config(path)
    assert isinstance(cfg, ModelConfig)
    assert cfg.model is toy_model
    assert isinstance(cfg.params, toy_model.Params)
    assert cfg.params.a == 2.0
    np.testing.assert_array_equal(cfg.params.weights, [1.0, 3.0])
    assert cfg.numerics.tol == 1e-13
    assert cfg.numerics.max_iter == 100  # default kept
    assert cfg.source_path == path
    assert cfg.raw["description"] == "square root of two"


def test_numerics_section_is_optional(toy_model, write_config):
    cfg = load_model_config(write_config("model: toy_sqrt\nparams: {a: 9}\n"))
    assert cfg.numerics == toy_model.Numerics()


def test_exponent_without_dot_is_a_float(toy_model, write_config):
    # YAML 1.1 (PyYAML) reads `1e9` as a string; configs write trade costs like that.
    cfg = load_model_config(write_config("model: toy_sqrt\nparams: {a: 1e9, weights: [2E-3]}\n"))
    assert cfg.params.a == 1e9
    np.testing.assert_array_equal(cfg.params.weights, [2e-3])
    assert cfg.raw["params"]["a"] == 1e9


def test_dump_model_config_round_trips(toy_model, write_config, tmp_path):
    cfg = load_model_config(write_config(TOY_OK))
    out = dump_model_config(cfg, tmp_path / "sub" / "again.yaml")
    again = load_model_config(out)
    assert again.params == cfg.params
    assert again.numerics == cfg.numerics
    assert again.model is cfg.model


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_shipped_example_configs_load(path):
    cfg = load_model_config(path)
    assert cfg.model.name == cfg.raw["model"]


# ------------------------------------------------------------------------------ errors


def test_missing_file(tmp_path):
    err, text = problems_of(tmp_path / "nope.yaml")
    assert err.source == str(tmp_path / "nope.yaml")
    assert text == "file not found"
    assert str(tmp_path / "nope.yaml") in str(err)


def test_directory_is_not_a_config(tmp_path):
    _, text = problems_of(tmp_path)
    assert "is a directory" in text


def test_empty_file(write_config):
    _, text = problems_of(write_config(""))
    assert text.startswith("is empty; expected a mapping with keys model")


def test_top_level_must_be_a_mapping(write_config):
    _, text = problems_of(write_config("- 1\n- 2\n"))
    assert text == "line 1: top level must be a mapping, got list"


def test_bad_yaml_names_line_and_column(write_config):
    path = write_config("model: toy_sqrt\nparams:\n  a: [1, 2\n  weights: 3\n")
    err, text = problems_of(path)
    assert err.source == str(path)
    assert text.startswith("invalid YAML at line 4, column")
    assert "while parsing a flow sequence (line 3, column 6)" in text


def test_tab_indentation_is_bad_yaml(write_config):
    _, text = problems_of(write_config("model: toy_sqrt\nparams:\n\ta: 2\n"))
    assert text.startswith("invalid YAML at line 3, column 1:")
    assert "'\\t'" in text


def test_several_documents_are_rejected(write_config):
    _, text = problems_of(write_config("model: toy_sqrt\n---\nmodel: toy_sqrt\n"))
    assert "expected a single document" in text


def test_python_tags_are_not_constructed(write_config, tmp_path):
    marker = tmp_path / "pwned"
    path = write_config(
        "model: toy_sqrt\n"
        f"params: !!python/object/apply:os.system ['touch {marker}']\n"
    )
    _, text = problems_of(path)
    assert text.startswith("invalid YAML at line 2, column 9: could not determine a constructor")
    assert not marker.exists()


def test_missing_model_key_lists_known_models(toy_model, write_config):
    _, text = problems_of(write_config("params: {a: 2}\n"))
    assert text.startswith("model: missing; name one of: ")
    assert "toy_sqrt" in text and "armington" in text


def test_model_must_be_a_name(toy_model, write_config):
    _, text = problems_of(write_config("params: {a: 2}\nmodel: [toy_sqrt]\n"))
    assert text == "line 2: model: must be a model name, got ['toy_sqrt']"


def test_unknown_model_lists_known_models_and_suggests(toy_model, write_config):
    _, text = problems_of(write_config("model: toy_sqr\nparams: {a: 2}\n"))
    assert text.startswith("line 1: model: unknown model 'toy_sqr' (did you mean 'toy_sqrt'?)")
    assert "known models: " in text and "armington" in text


def test_unknown_top_level_key_named_with_line(toy_model, write_config):
    _, text = problems_of(write_config("model: toy_sqrt\nparams: {a: 2}\nparms: {}\n"))
    assert text == ("line 3: parms: unknown top-level key (did you mean 'params'?); "
                    "allowed: model, description, params, numerics, locations")


def test_duplicate_key_named_with_line(toy_model, write_config):
    _, text = problems_of(write_config("model: toy_sqrt\nparams:\n  a: 2\n  a: 3\n"))
    assert text == "line 4: params.a: duplicate key"


def test_unknown_param_field_with_suggestion_and_line(toy_model, write_config):
    _, text = problems_of(write_config("model: toy_sqrt\nparams:\n  a: 2\n  wieghts: [1]\n"))
    assert text == ("line 4: params.wieghts: unknown field (did you mean 'weights'?); "
                    "known fields: a, weights")


def test_unknown_field_does_not_hide_other_violations(toy_model, write_config):
    err, _ = problems_of(write_config("model: toy_sqrt\nparams:\n  a: -1\n  b: 1\n"))
    assert err.problems[0].startswith("line 4: params.b: unknown field")
    assert err.problems[1] == "line 3: params.a: must be > 0, got -1.0"
    assert len(err.problems) == 2


def test_missing_required_param(toy_model, write_config):
    _, text = problems_of(write_config("model: toy_sqrt\nparams:\n  weights: [1]\n"))
    assert text == "line 2: params.a: is required"


def test_params_must_be_a_mapping(toy_model, write_config):
    _, text = problems_of(write_config("model: toy_sqrt\nparams: [1, 2]\n"))
    assert text == "line 2: params: must be a mapping of field: value, got [1, 2]"


def test_invalid_scalar_names_path_line_and_value(toy_model, write_config):
    path = write_config("model: toy_sqrt\nparams:\n  weights: [1]\n  a: -4\n")
    err, text = problems_of(path)
    assert err.source == str(path)
    assert text == "line 4: params.a: must be > 0, got -4.0"


def test_non_number_is_reported_not_crashed(toy_model, write_config):
    _, text = problems_of(write_config("model: toy_sqrt\nparams:\n  a: two\n"))
    assert text == "line 3: params.a: must be a real number, got 'two'"


def test_array_violation_points_at_the_element_line(toy_model, write_config):
    path = write_config(
        "model: toy_sqrt\n"
        "params:\n"
        "  a: 2\n"
        "  weights:\n"
        "    - 1.0\n"
        "    - -2.0\n"
    )
    _, text = problems_of(path)
    assert text == "line 6: params.weights[1]: must be >= 0, got -2.0"


def test_index_into_matrix_maps_to_row_line(write_config):
    # armington's Params reports tau[i, j]; the loader finds the row's line.
    path = write_config(
        "model: armington\n"
        "params:\n"
        "  sigma: 2.0\n"
        "  A: [1, 1]\n"
        "  L: [1, 1]\n"
        "  tau:\n"
        "    - [1, 5]\n"
        "    - [0.5, 1]\n"
    )
    err, _ = problems_of(path)
    (problem,) = err.problems
    assert problem.startswith("line 8: params.tau[1, 0]: ")
    assert problem.endswith("got 0.5")


def test_params_and_numerics_violations_are_all_reported(toy_model, write_config):
    path = write_config(
        "model: toy_sqrt\nparams:\n  a: 0\nnumerics:\n  tol: -1\n  max_iter: 2.5\n  x: 1\n"
    )
    err, _ = problems_of(path)
    assert err.problems == (
        "line 3: params.a: must be > 0, got 0.0",
        "line 7: numerics.x: unknown field; known fields: max_iter, raise_on_failure, tol",
        "line 5: numerics.tol: must be > 0, got -1.0",
        "line 6: numerics.max_iter: must be an integer, got 2.5",
    )


def test_error_message_starts_with_the_file(toy_model, write_config):
    path = write_config("model: toy_sqrt\nparams:\n  a: 0\n")
    with pytest.raises(InvalidConfigError, match=r"cfg\.yaml:\n  - line 3: params\.a: must be > 0"):
        load_model_config(path)


# ------------------------------------------------------------------------------ output


def test_summary_is_strict_json_with_nulls_for_non_finite(toy_model, write_config, tmp_path):
    cfg = load_model_config(write_config(TOY_OK))
    sol = toy_model.solve(cfg.params, numerics=cfg.numerics)
    summary = build_summary(cfg, sol, timings={"solve": 0.5}, version="9.9")
    summary["moments"]["bad"] = math.nan
    path = dump_summary(tmp_path / "s.json", summary)

    def reject(token):
        raise AssertionError(f"non-standard JSON constant {token}")

    data = json.loads(path.read_text(), parse_constant=reject)
    assert data["moments"]["bad"] is None
    assert data["model"] == "toy_sqrt"
    assert data["hetspace_version"] == "9.9"
    assert data["params"] == {"a": 2.0, "weights": [1.0, 3.0]}
    assert data["numerics"]["tol"] == 1e-13
    assert data["arrays"]["x"] == {"shape": [1], "dtype": "float64"}
    np.testing.assert_allclose(data["moments"]["root"], math.sqrt(2.0), rtol=1e-12)


def test_npz_round_trip_and_no_pickles(tmp_path):
    arrays = {"w": np.arange(3.0), "lam": np.eye(2)}
    path = write_solution_npz(tmp_path / "sol.npz", arrays)
    with np.load(path, allow_pickle=False) as loaded:
        assert sorted(loaded.files) == ["lam", "w"]
        np.testing.assert_array_equal(loaded["lam"], np.eye(2))
    with pytest.raises(TypeError, match="dtype object"):
        write_solution_npz(tmp_path / "bad.npz", {"o": np.array([{}], dtype=object)})
    assert not (tmp_path / "bad.npz").exists()


def test_atomic_write_keeps_old_file_when_writer_fails(tmp_path):
    target = tmp_path / "summary.json"
    target.write_text("old")

    def broken(fh):
        fh.write(b"half of the new")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic_write(target, broken)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_atomic_write_honours_the_umask(tmp_path, mask):
    # mkstemp makes 0600 files; results shared with a group must follow the umask
    from hetspace.core import config

    previous = os.umask(mask)
    config._umask.cache_clear()
    try:
        path = atomic_write(tmp_path / "shared.txt", lambda fh: fh.write(b"x"))
    finally:
        os.umask(previous)
        config._umask.cache_clear()
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
