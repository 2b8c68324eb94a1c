"""The SIGTERM handler raises only where an exception cannot leave a lock held."""

from __future__ import annotations

import signal
import sys
import threading
import time

import pytest

from hetspace.sweeps.runner import raise_when_safe


class _Stop(Exception):
    pass


@pytest.fixture
def usr1_seen():
    seen = threading.Event()
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: seen.set())
    yield seen
    signal.signal(signal.SIGUSR1, previous)


def _frame_inside_an_import(tmp_path, monkeypatch):
    # the body of a module being imported: the import machinery's frames are its callers
    (tmp_path / "hs_probe_module.py").write_text("import sys\nFRAME = sys._getframe()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("hs_probe_module", None)
    import hs_probe_module

    return hs_probe_module.FRAME


def _wait(event: threading.Event) -> bool:
    deadline = time.monotonic() + 5
    while not event.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)  # the handler runs in the main thread between bytecodes
    return event.is_set()


def test_the_signal_is_sent_again_when_it_came_during_an_import(tmp_path, monkeypatch,
                                                                usr1_seen) -> None:
    # raised inside importlib's module-lock bookkeeping, the exception left the lock held
    # and the next thread to import waited forever (a sweep hung on SIGTERM as Ray started)
    frame = _frame_inside_an_import(tmp_path, monkeypatch)
    raise_when_safe(signal.SIGUSR1, frame, _Stop())  # no raise
    assert _wait(usr1_seen)


def test_the_signal_is_sent_again_when_it_came_in_logging(usr1_seen) -> None:
    import logging

    frame = type("Frame", (), {"f_globals": vars(logging), "f_back": None})()
    raise_when_safe(signal.SIGUSR1, frame, _Stop())
    assert _wait(usr1_seen)


def test_elsewhere_the_exception_is_raised(usr1_seen) -> None:
    with pytest.raises(_Stop):
        raise_when_safe(signal.SIGUSR1, sys._getframe(), _Stop())
    time.sleep(0.2)
    assert not usr1_seen.is_set()


def test_the_signal_is_sent_again_when_it_came_in_a_fork_hook(usr1_seen) -> None:
    # an exception raised in an os.register_at_fork hook is printed and ignored: the
    # SIGTERM was lost and the sweep ran on (filelock's hook, while Ray started processes)
    def _resume_parent_after_fork():
        return sys._getframe()

    raise_when_safe(signal.SIGUSR1, _resume_parent_after_fork(), _Stop())  # no raise
    assert _wait(usr1_seen)
