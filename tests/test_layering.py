"""Imports flow one way (DESIGN section 1): core <- sweeps <- estimation <- the entry
points in hetspace/ (cli, submit); and no module imports a private name (one with a
leading underscore) from another of these packages. Checked on the source's import
statements, including those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAYERS = {"core": 0, "sweeps": 1, "estimation": 2, "hetspace": 3}  # folder -> its level
PACKAGE = {"hetspace.core": "core", "hetspace.sweeps": "sweeps",
           "hetspace.estimation": "estimation"}


def _package_of(module: str) -> str | None:
    """The folder (layer) a dotted ``hetspace...`` module belongs to (None: not ours, or
    ``hetspace._version``, a leaf every layer may read)."""
    if module == "hetspace._version":
        return None
    for prefix, folder in PACKAGE.items():
        if module == prefix or module.startswith(prefix + "."):
            return folder
    return "hetspace" if module == "hetspace" or module.startswith("hetspace.") else None


def _imports(path: Path, root: Path, folder: str):
    """(line, imported module, names) of every import in ``path`` (relative imports
    resolve inside ``folder``'s package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = path.relative_to(root / folder).with_suffix("").parts
    here = ["hetspace"] + ([] if folder == "hetspace" else [folder]) + list(rel[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            yield node.lineno, module, [a.name for a in node.names]


def _violations(root: Path = REPO) -> list[str]:
    found = []
    for folder, level in LAYERS.items():
        for path in sorted((root / folder).rglob("*.py")):
            for line, module, names in _imports(path, root, folder):
                target = _package_of(module)
                if target is None or target == folder:
                    continue
                where = f"{path.relative_to(root)}:{line}"
                if LAYERS[target] > level:
                    found.append(f"{where}: {folder} imports {module} (a higher layer)")
                private = [n for n in names if n.startswith("_") and not n.startswith("__")]
                if private:
                    found.append(f"{where}: imports private {private} from {module}")
    return found


def test_imports_flow_one_way_and_reach_no_private_names() -> None:
    assert _violations() == []


def test_the_checker_sees_a_violation(tmp_path) -> None:
    """A checker that found nothing because it read nothing would pass the test above:
    a copy of the layout with one bad module in it."""
    for folder in LAYERS:
        (tmp_path / folder).mkdir()
    (tmp_path / "sweeps" / "_layering_probe.py").write_text(
        "from hetspace.estimation.spec import _SECTIONS\n"
        "def f():\n    from hetspace.sweeps.spec import check_keys\n"
        "    from ..core import _private\n")
    found = _violations(tmp_path)
    assert any("_layering_probe.py:1: sweeps imports hetspace.estimation.spec" in f
               for f in found)
    assert any("imports private ['_SECTIONS']" in f for f in found)
    assert not any("_layering_probe.py:3" in f for f in found)  # same package
    assert any("_layering_probe.py:4: imports private ['_private'] from hetspace.core" in f
               for f in found)
