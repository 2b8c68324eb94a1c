"""The distribution: core/, sweeps/, estimation/ install as hetspace.core etc., and nothing bare.

Builds a wheel from a clean copy of the source (so a stale build/ folder cannot
hide a missing package), checks its contents, installs it into a target
folder and imports it from there in a fresh interpreter.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
PACKAGE_DIR: dict[str, str] = SETUPTOOLS["package-dir"]
MAPPED = {"hetspace": "hetspace", "core": "hetspace.core", "sweeps": "hetspace.sweeps",
          "estimation": "hetspace.estimation"}
SOURCE_FILES = ("pyproject.toml", "README.md")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc", ".*")


def tree_packages() -> dict[str, Path]:
    """Dotted name -> folder of every folder with an __init__.py under the mapped roots."""
    found = {}
    for top, dotted in MAPPED.items():
        root = REPO_ROOT / top
        for init in root.rglob("__init__.py"):
            rel = init.parent.relative_to(root)
            if any(part.startswith((".", "__")) for part in rel.parts):
                continue
            found[".".join((dotted, *rel.parts))] = init.parent
    return found


def _folder(dotted: str) -> Path:
    """The source folder of a dotted package name, through the package-dir mapping."""
    top = max((name for name in PACKAGE_DIR if dotted == name or dotted.startswith(name + ".")),
              key=len)
    return REPO_ROOT / PACKAGE_DIR[top] / Path(*dotted[len(top):].split(".")[1:])


def test_package_dir_maps_top_level_folders():
    assert PACKAGE_DIR == {"hetspace": "hetspace", "hetspace.core": "core",
                           "hetspace.sweeps": "sweeps", "hetspace.estimation": "estimation"}


def test_every_package_in_the_tree_is_listed_in_pyproject():
    listed = set(SETUPTOOLS["packages"])
    in_tree = set(tree_packages())
    missing = sorted(in_tree - listed)
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"
    data_only = {name for name in SETUPTOOLS.get("package-data", {})
                 if _folder(name).is_dir() and not any(_folder(name).glob("*.py"))}
    stale = sorted(listed - in_tree - data_only)
    assert not stale, f"listed in pyproject.toml but no such package folder: {stale}"


def test_every_folder_with_python_files_is_a_package():
    # a folder of modules without __init__.py would be left out of the wheel silently
    bare = []
    for top in MAPPED:
        for folder in sorted({py.parent for py in (REPO_ROOT / top).rglob("*.py")}):
            rel = folder.relative_to(REPO_ROOT)
            if any(part.startswith((".", "__")) for part in rel.parts):
                continue
            if not (folder / "__init__.py").exists():
                bare.append(str(rel))
    assert not bare, f"folders with modules but no __init__.py: {bare}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in SOURCE_FILES:
        shutil.copy2(REPO_ROOT / name, src / name)
    for top in MAPPED:
        shutil.copytree(REPO_ROOT / top, src / top, ignore=IGNORE)
    dist = tmp_path_factory.mktemp("dist")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
           "--disable-pip-version-check", "-q", "-w", str(dist), str(src)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"wheel build failed:\n{done.stdout}\n{done.stderr}"
    (path,) = dist.glob("hetspace-*.whl")
    return path


def test_wheel_has_mapped_packages_and_no_bare_ones(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("hetspace/__init__.py", "hetspace/cli.py", "hetspace/core/__init__.py",
                     "hetspace/core/config.py", "hetspace/core/numerics/__init__.py",
                     "hetspace/sweeps/__init__.py", "hetspace/estimation/__init__.py"):
        assert required in names, required
    tops = {n.split("/", 1)[0] for n in names}
    assert not tops & {"core", "sweeps", "estimation"}, sorted(tops)
    assert {t for t in tops if not t.endswith(".dist-info")} == {"hetspace"}


def test_wheel_contains_every_python_file_of_the_tree(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = set()
    for dotted, folder in tree_packages().items():
        prefix = dotted.replace(".", "/")
        expected |= {f"{prefix}/{py.name}" for py in folder.glob("*.py")}
    missing = sorted(expected - names)
    assert not missing, missing


def test_installed_wheel_imports_from_its_own_folder(wheel, tmp_path):
    target = tmp_path / "site"
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check",
           "-q", "--target", str(target), str(wheel)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert not (target / "core").exists()
    check = f"""
import importlib.util, sys
sys.path.insert(0, {str(target)!r})
import hetspace, hetspace.core, hetspace.cli
assert hetspace.core.__file__.startswith({str(target)!r}), hetspace.core.__file__
assert hetspace.cli.__file__.startswith({str(target)!r}), hetspace.cli.__file__
assert importlib.util.find_spec("core") is None, "a bare `core` package is importable"
print(hetspace.__version__)
"""
    run_dir = tmp_path / "elsewhere"  # not the repo root, so its core/ is not on sys.path
    run_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", check], cwd=run_dir, capture_output=True,
                          text=True, check=False, env=env)
    assert done.returncode == 0, done.stderr
    from hetspace import __version__

    assert done.stdout.strip() == __version__


@pytest.mark.skipif(not (REPO_ROOT / "core" / "armington" / "__init__.py").exists(),
                    reason="core/armington not in the tree yet")
def test_installed_wheel_serves_armington(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                    "--disable-pip-version-check", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    check = f"""
import sys
sys.path.insert(0, {str(target)!r})
import hetspace.core
spec = hetspace.core.get_model("armington")
module = sys.modules[spec.Params.__module__]
assert module.__file__.startswith({str(target)!r}), module.__file__
print(spec.name)
"""
    done = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "armington"
