"""Careless and hostile input: one file per case in tests/bad_inputs/, run through the CLI.

Each file starts with comment lines that say what must happen::

    # what the case is
    # command: solve            (solve, sweep or estimate; the file is its argument)
    # exit: 2                   (the README's exit code)
    # error: {file}: line 12: its aliases expand   (a regular expression the first
    #                           error line must match after "error: "; {file} is the path)
    # args: --address x         (optional: more arguments)

The command runs in a subprocess with a timeout (some cases used to hang), with
``--out`` pointing at a folder that must not exist afterwards (every case fails
before any work began). Stderr holds ``error:`` lines only, and no traceback.
Adding a case is adding one file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

CASES = sorted((Path(__file__).parent / "bad_inputs").glob("*.yaml"))
HEADER = re.compile(rb"^# (command|exit|error|args): (.*)$", re.MULTILINE)
TIMEOUT = 60  # seconds; a case ends in a few (a hang guard, not a timing assertion)


def expectation(path: Path) -> dict[str, str]:
    found = {k.decode(): v.decode().strip() for k, v in HEADER.findall(path.read_bytes())}
    assert {"command", "exit", "error"} <= set(found), f"{path.name}: header incomplete"
    return found


def test_every_case_has_a_complete_header() -> None:
    assert len(CASES) >= 5
    commands = {expectation(p)["command"] for p in CASES}
    assert commands <= {"solve", "sweep", "estimate"}


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bad_input_is_one_clear_error(path: Path, tmp_path: Path) -> None:
    want = expectation(path)
    out = tmp_path / "out"
    env = {**os.environ, "COLUMNS": "200", "RAY_AUTH_MODE": "disabled"}
    done = subprocess.run([sys.executable, "-m", "hetspace.cli", want["command"], str(path),
                           "--out", str(out), *want.get("args", "").split()],
                          capture_output=True, text=True, env=env, timeout=TIMEOUT, check=False)
    assert done.returncode == int(want["exit"]), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), done.stderr
    pattern = want["error"].replace("{file}", re.escape(str(path)))
    assert re.match(pattern, lines[0].removeprefix("error: ")), done.stderr
    assert not out.exists()
