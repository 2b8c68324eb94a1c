"""Connecting the driver to Ray: an embedded local instance, or an existing cluster.

``connect(None)`` starts a local Ray with this machine's cores (dashboard off),
unless Ray is already initialised in this process (a notebook, a test session),
which is then reused; it listens on 127.0.0.1 only when
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` was set before Ray was imported, as the
CLI does (``hetspace.cli._local_ray_on_loopback``), and on every interface
otherwise. ``connect("auto")`` (or an explicit ``host:port``) joins
an existing cluster and fails fast with :class:`ClusterNotFoundError` if there
is none; it never falls back to starting a local instance.

``actor_count`` decides how many steady-state actors to start: never more than
the cluster's CPUs can hold at once (an actor Ray cannot place would be waited
for forever), capped with a warning when more were asked for.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator

import ray

from hetspace.core.errors import HetspaceError

logger = logging.getLogger(__name__)


class ClusterNotFoundError(HetspaceError, ConnectionError):
    """``--address`` named a Ray cluster that is not running or not reachable."""


class ClusterStartError(HetspaceError, RuntimeError):
    """The embedded local Ray instance could not start."""


class ResourcesError(HetspaceError, ValueError):
    """The resources asked for can never be had on the connected Ray cluster."""


def connect(address: str | None = None, *, num_cpus: int | None = None) -> bool:
    """Make sure this process is connected to Ray; True if this call started it."""
    if ray.is_initialized():
        return False
    if address is None:
        _quiet_token_notice()
        try:
            with _same_sigterm_handler():
                ray.init(address="local", num_cpus=num_cpus or os.cpu_count(),
                         include_dashboard=False, log_to_driver=False,
                         logging_level=logging.WARNING)
        except Exception as e:  # a Ray that cannot start (its folder, ports, raylet)
            with contextlib.suppress(Exception):
                ray.shutdown()
            raise ClusterStartError(f"could not start a local Ray instance: {type(e).__name__}: "
                                    f"{' '.join(str(e).split())}") from e
        logger.info("started a local Ray instance with %s CPUs", num_cpus or os.cpu_count())
        return True
    hint = os.environ.get("RAY_ADDRESS") or None
    target = hint if address == "auto" and hint else address
    try:
        if target != "auto":
            _probe(target)  # ray.init would wait minutes for an unreachable GCS
        with _same_sigterm_handler():
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    except ConnectionError as e:
        where = f" (RAY_ADDRESS={hint})" if hint else ""
        raise ClusterNotFoundError(
            f"no running Ray cluster found at address {address!r}{where}: start one with "
            "`ray start --head` or `ray up cluster.yaml`, or drop --address to run locally"
        ) from e
    logger.info("joined the Ray cluster at %s", address)
    return True


@contextlib.contextmanager
def _same_sigterm_handler() -> Iterator[None]:
    """Keep this process's SIGTERM handler across ``ray.init``, which installs Ray's C++
    failure handler in its place (it prints a stack dump and aborts, so a sweep's
    "interrupted; ... resume" line never showed). A SIGTERM while ``ray.init`` runs
    (its own handler then raises ``SystemExit(15)``) goes to that handler, after the
    half-started Ray is shut down."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    # ray.init first installs a handler that calls sys.exit: a SIGTERM while it forks its
    # processes raised SystemExit inside logging's fork hook, which swallowed it with
    # logging's lock held, and every thread that logged waited forever. Ray installs it
    # through this (private) function, which is made to keep the handler there is.
    utils = getattr(ray._private, "utils", None)
    ray_sets = getattr(utils, "set_sigterm_handler", None)
    if previous is not None and callable(previous) and ray_sets is not None:
        utils.set_sigterm_handler = _keep_handler
    try:
        yield
    except SystemExit as e:
        if e.code == signal.SIGTERM and callable(previous):
            with contextlib.suppress(Exception):
                ray.shutdown()
            previous(signal.SIGTERM, None)
        raise
    finally:
        if ray_sets is not None:
            utils.set_sigterm_handler = ray_sets
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _keep_handler(handler) -> None:
    """Stands in for ``ray._private.utils.set_sigterm_handler`` during ``ray.init``."""


def _probe(address: str, timeout: float = 5.0) -> None:
    """Raise ConnectionError unless something listens at ``host:port`` (GCS address)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # not host:port; let ray.init judge it
    with socket.create_connection((host, int(port)), timeout=timeout):
        pass


def cluster_cpus() -> int:
    """CPUs the connected Ray cluster offers."""
    return int(ray.cluster_resources().get("CPU", 1))


def actor_count(requested: int | None, cpus_per_actor: int, limit: int | None = None, *,
                joined: bool = False) -> int:
    """How many actors of ``cpus_per_actor`` CPUs to start on the connected cluster.

    ``requested`` (None: as many as the cluster's CPUs hold) is capped, with a
    warning, at what the cluster can run at once, then at ``limit`` (e.g. the
    points to evaluate; silently, nothing is lost by that). ``ResourcesError``
    if not even one actor fits. ``joined``: the cluster was joined (``--address``),
    not started here; the number of actors is then said on stderr whenever it comes
    from the CPUs the cluster has now, since an autoscaling cluster (``cluster.yaml``,
    ``min_workers: 0``) is not grown for actors that are never asked for.
    """
    cpus = cluster_cpus()
    check_actor_fits(cpus_per_actor, cpus)
    fit = cpus // cpus_per_actor
    n = fit if requested is None else requested
    grow = (" (an autoscaling cluster is not grown for more: start its worker nodes first, "
            "e.g. min_workers in cluster.yaml)") if joined else ""
    if n > fit:
        logger.warning("%d actors of %d CPU(s) each need %d CPUs but the Ray cluster has %d; "
                       "starting %d actors%s", n, cpus_per_actor, n * cpus_per_actor, cpus, fit,
                       grow)
        n = fit
    elif requested is None and joined and (limit is None or fit <= limit):
        logger.warning("starting %d actors of %d CPU(s) each, as many as the %d CPUs the Ray "
                       "cluster has now hold%s", fit, cpus_per_actor, cpus, grow)
    return max(1, min(n, limit)) if limit is not None else n


def check_actor_fits(cpus_per_actor: int, cpus: int | None = None) -> None:
    """``ResourcesError`` unless one actor of ``cpus_per_actor`` fits in ``cpus`` (default:
    the connected cluster's CPUs, or before Ray starts, the local Ray's: this machine's)."""
    if cpus is None:
        cpus = cluster_cpus() if ray.is_initialized() else (os.cpu_count() or 1)
    if cpus_per_actor > cpus:
        raise ResourcesError(f"resources.cpus_per_actor is {cpus_per_actor}, but the Ray "
                             f"cluster has {cpus} CPUs, so no actor could ever start; lower "
                             "cpus_per_actor")


def _quiet_token_notice() -> None:
    """Drop Ray's notice that token authentication is on (the safe default) for the
    embedded local instance; its warning that authentication is off still shows."""
    name = "ray._private.authentication.authentication_token_setup"
    target = logging.getLogger(name)
    if not any(isinstance(f, _TokenNotice) for f in target.filters):
        target.addFilter(_TokenNotice())


class _TokenNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Token authentication is enabled")
