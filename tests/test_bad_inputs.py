"""Careless and hostile input: one file per case in tests/bad_inputs/, run through the CLI.

Each file starts with comment lines that say what must happen::

    # what the case is
    # command: solve            (solve, sweep, estimate, table or runs)
    # exit: 2                   (the README's exit code)
    # error: {file}: line 12: its aliases expand   (a regular expression the first
    #                           error line must match after "error: "; {file} is the path
    #                           of this file, {target} the path given as the argument)
    # target: data/some_folder  (optional: the argument, a file or folder under
    #                           tests/bad_inputs/, instead of this file; "none": no argument)
    # args: --address x         (optional: more arguments; {file} is this file's path)
    # env: RAY_TMPDIR=/proc/x   (optional: environment variables of the command)

The command runs in a subprocess, in an empty folder, with a timeout (some cases
used to hang); solve, sweep and estimate get ``--out`` pointing at a folder that
must not exist afterwards (every case fails before any work began). A target is
copied into that empty folder first, and the folder must hold exactly the same
files with the same bytes afterwards (``runs`` used to create MLflow's tables in any
file named mlflow.db, for instance). Stderr holds
``error:`` lines only, and no traceback. Adding a case is adding one file (and its
target, if it has one).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "bad_inputs"
CASES = sorted(HERE.glob("*.yaml"))
HEADER = re.compile(rb"^# (command|exit|error|args|target|env): (.*)$", re.MULTILINE)
TIMEOUT = 60  # seconds; a case ends in a few (a hang guard, not a timing assertion)
COMMANDS = {"solve", "sweep", "estimate", "table", "runs"}
WITH_OUT = {"solve", "sweep", "estimate"}


def expectation(path: Path) -> dict[str, str]:
    found = {k.decode(): v.decode().strip() for k, v in HEADER.findall(path.read_bytes())}
    assert {"command", "exit", "error"} <= set(found), f"{path.name}: header incomplete"
    return found


def test_every_case_has_a_complete_header() -> None:
    assert len(CASES) >= 5
    cases = [expectation(p) for p in CASES]
    assert {c["command"] for c in cases} <= COMMANDS
    for case in cases:
        target = case.get("target", "none")
        assert target == "none" or (HERE / target).exists(), target


def _tree(root: Path) -> dict[str, str]:
    """Every path under ``root`` with a digest of its bytes ("" for a folder)."""
    return {str(p.relative_to(root)): "" if p.is_dir() else
            hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*")}


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bad_input_is_one_clear_error(path: Path, tmp_path: Path) -> None:
    want = expectation(path)
    work = tmp_path / "work"
    work.mkdir()
    target = want.get("target")
    argument = [str(path)]
    if target == "none":
        argument = []
    elif target is not None:
        copy = work / Path(target).name
        (shutil.copytree if (HERE / target).is_dir() else shutil.copy2)(HERE / target, copy)
        argument = [str(copy)]
    out = work / "out"
    before = _tree(work)
    # RAY_ADDRESS: where --address auto looks (unset, it joins any Ray on this machine)
    env = {**os.environ, "COLUMNS": "200", "RAY_AUTH_MODE": "disabled",
           "RAY_ADDRESS": "127.0.0.1:1",
           **dict(kv.split("=", 1) for kv in want.get("env", "").split())}
    command = [sys.executable, "-m", "hetspace.cli", want["command"], *argument,
               *(["--out", str(out)] if want["command"] in WITH_OUT else []),
               *want.get("args", "").replace("{file}", str(path)).split()]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=work,
                          timeout=TIMEOUT, check=False)
    assert done.returncode == int(want["exit"]), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), done.stderr
    pattern = want["error"].replace("{file}", re.escape(str(path)))
    pattern = pattern.replace("{target}", re.escape(argument[0] if argument else ""))
    assert re.match(pattern, lines[0].removeprefix("error: ")), done.stderr
    assert not out.exists()
    assert _tree(work) == before  # nothing created, changed or removed
