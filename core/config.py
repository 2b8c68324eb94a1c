"""YAML model configs: load and validate them, and write what a solve produced.

A model config names a registered model, its parameters and (optionally) its
numerics::

    model: armington
    description: two symmetric regions   # optional free text
    params:
      sigma: 2.0
      tau: [[1, 5], [5, 1]]
    numerics:
      tol: 1.0e-12
    locations:                            # optional: name: [latitude, longitude]
      north: [45.0, -70.0]                # (maps; see hetspace.core.locations)
      south: [40.0, -74.0]

``load_model_config`` parses it with a safe loader, builds the model's
``Params`` and ``Numerics`` (which validate themselves) and raises one
:class:`InvalidConfigError` listing every problem, each named by its path in
the file (``params.tau[0, 1]``) and, where it can be found, its line.

``build_summary`` / ``dump_summary`` / ``write_solution_npz`` write what a solve
produced (``hetspace solve`` uses them); every write is atomic (temporary file
in the target folder, then ``os.replace``), so no reader sees a partial file.

Other config readers (sweep and estimation specs) reuse the parsing pieces:
``read_text``, ``parse_yaml``, ``Locator`` (line of a path in the YAML node
tree) and ``did_you_mean``.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
import yaml

from .errors import InvalidConfigError, InvalidParamsError
from .locations import Location, check_count, parse_locations
from .protocol import ModelSpec, get_model, list_models, retired_field, solution_arrays, to_plain

logger = logging.getLogger(__name__)

#: Keys a model config may have at its top level.
TOP_LEVEL_KEYS = ("model", "description", "params", "numerics", "locations")


@dataclasses.dataclass(frozen=True, slots=True)
class ModelConfig:
    """A validated model config: the model, its built params and numerics, and the raw mapping."""

    model: ModelSpec
    params: Any
    numerics: Any
    source_path: Path
    raw: Mapping[str, Any]
    locations: tuple[Location, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The config as plain data (what ``dump_model_config`` writes back as YAML)."""
        return {
            "model": self.model.name,
            "params": _as_plain_dict(self.params),
            "numerics": _as_plain_dict(self.numerics),
            **({"locations": {loc.name: [loc.lat, loc.lon] for loc in self.locations}}
               if self.locations else {}),
        }


def load_model_config(path: str | os.PathLike[str]) -> ModelConfig:
    """Load, validate and build the model config at ``path``.

    Raises :class:`InvalidConfigError` (``source`` is the path) whose problems
    read ``line 7: params.tau[0, 1]: must be >= 1, got 0.5``: a missing or
    unreadable file, bad YAML (line and column), a missing or unknown model,
    unknown top-level keys, duplicate keys, and every violation the model's
    ``Params`` and ``Numerics`` report.
    """
    source_path = Path(path)
    source = str(source_path)
    text = read_text(source_path, source)
    data, root = parse_yaml(text, source)
    if data is None:
        raise InvalidConfigError(source, [f"is empty; expected a mapping with keys {_keys_text()}"])
    if not isinstance(data, dict):
        line = _line(root)
        raise InvalidConfigError(
            source, [_at(line, f"top level must be a mapping, got {type(data).__name__}")]
        )
    where = Locator(root)
    problems = where.duplicate_keys()
    problems += _check_top_level(data, where)
    spec = _resolve_model(data, where, problems)
    if spec is None:
        raise InvalidConfigError(source, problems)
    params = _build_section(spec.Params, spec.params_from_dict, "params", data, where, problems)
    numerics = _build_section(
        spec.Numerics, spec.numerics_from_dict, "numerics", data, where, problems
    )
    locations = _locations(data, params, where, problems)
    if problems:
        raise InvalidConfigError(source, problems)
    logger.debug("loaded %s: model %s", source, spec.name)
    return ModelConfig(model=spec, params=params, numerics=numerics,
                       source_path=source_path, raw=data, locations=locations)


def dump_model_config(config: ModelConfig, path: str | os.PathLike[str]) -> Path:
    """Write ``config`` back as YAML (plain values; reloads to an equal config). Atomic."""
    text = yaml.safe_dump(config.to_dict(), sort_keys=False, default_flow_style=None)
    return atomic_write(Path(path), lambda fh: fh.write(text.encode()))


def build_summary(
    config: ModelConfig,
    solution: Any,
    *,
    timings: Mapping[str, float],
    version: str,
) -> dict[str, Any]:
    """What ``summary.json`` holds: model, params, numerics, moments, residuals, timings.

    Non-finite floats become ``null`` so the file is strict JSON.
    """
    arrays = solution_arrays(solution)
    summary = {
        "hetspace_version": version,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": str(config.source_path),
        "model": config.model.name,
        "converged": bool(solution.converged),
        "n_iter": solution.n_iter,
        "residuals": dict(solution.residuals),
        "moments": solution.moments(),
        "timings_s": dict(timings),
        "params": _as_plain_dict(config.params),
        "numerics": _as_plain_dict(config.numerics),
        "arrays": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in arrays.items()},
    }
    return _finite_or_none(to_plain(summary))


def dump_summary(path: str | os.PathLike[str], summary: Mapping[str, Any]) -> Path:
    """Write ``summary`` as indented strict JSON, atomically."""
    text = json.dumps(_finite_or_none(to_plain(summary)), indent=2, allow_nan=False) + "\n"
    return atomic_write(Path(path), lambda fh: fh.write(text.encode()))


def write_solution_npz(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> Path:
    """Write ``arrays`` to an uncompressed ``.npz`` (no pickled objects), atomically."""
    for name, arr in arrays.items():
        if np.asarray(arr).dtype == object:
            raise TypeError(f"array {name!r} has dtype object; refusing to pickle it into npz")
    return atomic_write(Path(path), lambda fh: np.savez(fh, **arrays))


def first_missing(path: Path) -> Path | None:
    """The outermost folder of ``path`` that does not exist yet (None: it exists): what
    ``path.mkdir(parents=True)`` creates, and what to remove to leave no trace."""
    missing = None
    while not path.exists() and path != path.parent:
        missing, path = path, path.parent
    return missing


def atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, fsync, then rename it onto ``path``.

    The file gets the mode an ordinary ``open`` would give it (0666 less the umask),
    not ``mkstemp``'s 0600, so colleagues sharing a group can read results.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_frame(frame: Any, path: Path, fmt: str) -> None:
    """Write ``frame`` to ``path`` as csv (17 digits) or parquet, atomically (temp + rename),
    with the mode an ordinary ``open`` gives (``atomic_write``); ``frame`` a pandas
    DataFrame."""

    def write(fh) -> None:
        if fmt == "parquet":
            frame.to_parquet(fh, index=False)
        else:
            fh.write(frame.to_csv(index=False, float_format="%.17g").encode())

    atomic_write(Path(path), write)


@functools.cache
def _umask() -> int:
    """The process's umask (read once: setting it to read it is not thread-safe)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_umask()  # at import, before any writer thread starts

# --------------------------------------------------------------------------- parsing


class _ConfigLoader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e9`` and ``2.5E-3`` as floats (YAML 1.2), as people write.

    PyYAML follows YAML 1.1, where a float needs a dot and a signed exponent,
    so ``tau: 1e9`` would otherwise arrive as the string ``"1e9"``.
    """


_ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


#: The largest config file read (10 times the largest shipped one, spatial48.yaml);
#: the YAML parser reads about 0.1-0.2 MB a second.
MAX_CONFIG_BYTES = 1_000_000


def read_text(path: Path, source: str) -> str:
    """The UTF-8 text of the config file ``path``; ``InvalidConfigError`` (named ``source``)
    if it is missing, a directory, unreadable or not UTF-8."""
    if not path.exists():
        raise InvalidConfigError(source, ["file not found"])
    if path.is_dir():
        raise InvalidConfigError(source, ["is a directory, expected a YAML file"])
    if not path.is_file():  # a pipe or a device (/dev/zero) would be read forever
        raise InvalidConfigError(source, ["is not a regular file, expected a YAML file"])
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise InvalidConfigError(source, [
            f"is {size / 1e6:.1f} MB; a config may have at most {MAX_CONFIG_BYTES / 1e6:g} MB "
            "(reading more takes minutes: put large data in files it names, such as "
            "targets.panel or a SpatialData folder)"])
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InvalidConfigError(source, [f"is not UTF-8 text ({e.reason})"]) from e
    except OSError as e:
        raise InvalidConfigError(source, [f"cannot be read: {e.strerror or e}"]) from e


def parse_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """(data, root node) of YAML ``text`` read safely (``1e9`` is a float); the node tree
    feeds :class:`Locator`. Invalid YAML raises ``InvalidConfigError`` with line and column,
    and so does a document that would expand, through its aliases, to more than
    ``MAX_YAML_VALUES`` values (an "alias bomb"), refers to itself, or nests deeper than
    ``MAX_YAML_DEPTH`` levels: all of these are refused before anything walks the data."""
    try:
        loader = _ConfigLoader(text)  # the reader checks every character here (a NUL byte)
    except yaml.reader.ReaderError as e:
        raise InvalidConfigError(source, [_reader_problem(e, text)]) from e
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_expansion(node)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as e:
        raise InvalidConfigError(source, [_yaml_problem(e)]) from e
    except yaml.YAMLError as e:
        raise InvalidConfigError(source, [f"invalid YAML: {e}"]) from e
    except _TooBig as e:
        raise InvalidConfigError(source, [str(e)]) from e
    except RecursionError as e:
        raise InvalidConfigError(source, [f"nested more than {MAX_YAML_DEPTH} levels "
                                          "deep"]) from e
    finally:
        loader.dispose()
    return data, node


#: The most values (scalars, lists and mappings, each alias counted as what it stands for)
#: and the deepest nesting a config may have; far above any real config, far below what
#: would take the loader or the validation minutes.
MAX_YAML_VALUES = 1_000_000
MAX_YAML_DEPTH = 100


class _TooBig(Exception):
    """A YAML node tree that expands too far, nests too deep or contains itself."""


def _check_expansion(root: yaml.Node) -> None:
    """Raise :class:`_TooBig` if the tree under ``root``, aliases expanded, is too large.

    Each node is visited once (the expanded size of a node shared by aliases is
    remembered), without recursion, so the check is linear in the size of the text.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_ids: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            open_ids.discard(key)
            if size[key] > MAX_YAML_VALUES:
                raise _TooBig(f"{_where(node)}holds more than {MAX_YAML_VALUES:,} values "
                              "(each alias counted as what it stands for); refusing to load it")
            if depth[key] > MAX_YAML_DEPTH:
                raise _TooBig(f"{_where(node)}nested more than {MAX_YAML_DEPTH} levels deep")
            continue
        if key in size:
            continue
        open_ids.add(key)
        stack.append((node, True))
        for kid in _children(node):
            if id(kid) in open_ids:
                raise _TooBig(f"{_where(kid)}an alias refers to a node that contains it "
                              "(a recursive structure)")
            if id(kid) not in size:
                stack.append((kid, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _where(node: yaml.Node) -> str:
    return f"line {_line(node)}: " if node.start_mark is not None else ""


def _reader_problem(e: yaml.reader.ReaderError, text: str) -> str:
    """'invalid YAML at line 2, column 7: character #x0000 is not allowed'."""
    pos = e.position
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    char = e.character if isinstance(e.character, int) else ord(str(e.character)[:1] or "?")
    return f"invalid YAML at line {line}, column {column}: character #x{char:04X} is not allowed"


def _yaml_problem(e: yaml.MarkedYAMLError) -> str:
    mark = e.problem_mark or e.context_mark
    text = "invalid YAML"
    if mark is not None:
        text += f" at line {mark.line + 1}, column {mark.column + 1}"
    text += f": {e.problem or e.context or 'cannot parse'}"
    if e.problem and e.context:
        ctx = e.context_mark
        started = f" (line {ctx.line + 1}, column {ctx.column + 1})" if ctx is not None else ""
        text += f", {e.context}{started}"
    return text


def _check_top_level(data: dict, where: Locator) -> list[str]:
    problems = []
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            hint = did_you_mean(str(key), TOP_LEVEL_KEYS)
            problems.append(_at(where.key_line(key), f"{key}: unknown top-level key{hint}; "
                                f"allowed: {_keys_text()}"))
    return problems


def _locations(data: dict, params: Any, where: Locator, problems: list[str]
               ) -> tuple[Location, ...]:
    """The optional ``locations`` (names and coordinates, one per location of params)."""
    if data.get("locations") is None:
        return ()
    locations, found = parse_locations(data["locations"])
    found += check_count(locations, getattr(params, "n_loc", None)) if not found else []
    problems += [_at(where.line(("locations",)), p) for p in found]
    return locations


def _resolve_model(data: dict, where: Locator, problems: list[str]) -> ModelSpec | None:
    if "model" not in data:
        problems.append(f"model: missing; name one of: {', '.join(list_models())}")
        return None
    name = data["model"]
    line = where.line(("model",))
    if not isinstance(name, str):
        problems.append(_at(line, f"model: must be a model name, got {name!r}"))
        return None
    if name not in list_models():
        known = ", ".join(list_models())
        hint = did_you_mean(name, list_models())
        problems.append(_at(line, f"model: unknown model {name!r}{hint}; known models: {known}"))
        return None
    return get_model(name)


def _build_section(
    cls: type,
    build: Callable[[Mapping[str, Any]], Any],
    section: str,
    data: dict,
    where: Locator,
    problems: list[str],
) -> Any:
    body = data.get(section)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        problems.append(_at(where.line((section,)),
                            f"{section}: must be a mapping of field: value, got {body!r}"))
        return None
    before = len(problems)
    if dataclasses.is_dataclass(cls):
        fields = [f for f in dataclasses.fields(cls) if f.init]
        names = [f.name for f in fields]
        for key in body:
            if key not in names:
                hint = did_you_mean(str(key), names)
                retired = retired_field(cls, str(key))
                problems.append(_at(where.line((section, key)), f"{section}.{key}: {retired}"
                                    if retired else f"{section}.{key}: unknown field{hint}; "
                                    f"known fields: {', '.join(sorted(names))}"))
        body = {k: v for k, v in body.items() if k in names}  # still check the known ones
        missing = [f.name for f in fields if f.name not in body
                   and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            problems += [_at(where.line((section,)), f"{section}.{m}: is required")
                         for m in missing]
            return None
    try:
        built = build(body)
    except InvalidParamsError as e:
        for v in e.violations:
            problems.append(_at(where.field_line(section, v.field), f"{section}.{v}"))
    except (TypeError, ValueError) as e:
        problems.append(_at(where.line((section,)), f"{section}: {e}"))
    else:
        return built if len(problems) == before else None
    return None


class Locator:
    """Finds the line of a path (``params``, ``tau``, 0, 1) in the composed YAML node tree."""

    def __init__(self, root: yaml.Node | None):
        self.root = root

    def key_line(self, key: Any) -> int | None:
        pair = _find_pair(self.root, key)
        return _line(pair[0]) if pair else None

    def line(self, path: tuple[Any, ...]) -> int | None:
        """Line of the deepest node along ``path`` that exists (a key's line for mapping keys)."""
        node, found = self.root, None
        for step in path:
            if isinstance(node, yaml.MappingNode):
                pair = _find_pair(node, step)
                if pair is None:
                    break
                found, node = pair[0], pair[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int):
                if not 0 <= step < len(node.value):
                    break
                found = node = node.value[step]
            else:
                break
        return _line(found)

    def field_line(self, section: str, field: str) -> int | None:
        """Line for a violation field such as ``tau`` or ``tau[0, 1]`` inside ``section``."""
        match = re.match(r"^([A-Za-z_]\w*)(?:\[([\d,\s]+)\])?", field)
        if match is None:
            return self.line((section,))
        index = tuple(int(i) for i in match.group(2).split(",")) if match.group(2) else ()
        return self.line((section, match.group(1), *index))

    def duplicate_keys(self) -> list[str]:
        problems: list[str] = []
        _collect_duplicates(self.root, "", problems)
        return problems


def _find_pair(node: yaml.Node | None, key: Any) -> tuple[yaml.Node, yaml.Node] | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == str(key):
            return k, v
    return None


def _collect_duplicates(node: yaml.Node | None, prefix: str, problems: list[str],
                        seen_nodes: set[int] | None = None) -> None:
    """Duplicate keys under ``node``; a node that aliases share is walked once only."""
    seen_nodes = set() if seen_nodes is None else seen_nodes
    if node is None or id(node) in seen_nodes:
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            name = k.value if isinstance(k, yaml.ScalarNode) else "?"
            path = f"{prefix}.{name}" if prefix else name
            if name in seen:
                problems.append(_at(_line(k), f"{path}: duplicate key"))
            seen.add(name)
            _collect_duplicates(v, path, problems, seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _collect_duplicates(item, f"{prefix}[{i}]", problems, seen_nodes)


def _line(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def _at(line: int | None, text: str) -> str:
    return f"line {line}: {text}" if line is not None else text


def did_you_mean(word: str, choices) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices`` to ``word``, or ``""``."""
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _keys_text() -> str:
    return ", ".join(TOP_LEVEL_KEYS)


def _as_plain_dict(obj: Any) -> Any:
    to_dict = getattr(obj, "to_dict", None)
    return to_dict() if callable(to_dict) else to_plain(obj)


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value

