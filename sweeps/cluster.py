"""Connecting the driver to Ray: an embedded local instance, or an existing cluster.

``connect(None)`` starts a local Ray with this machine's cores (dashboard off),
unless Ray is already initialised in this process (a notebook, a test session),
which is then reused. ``connect("auto")`` (or an explicit ``host:port``) joins
an existing cluster and fails fast with :class:`ClusterNotFoundError` if there
is none; it never falls back to starting a local instance.
"""

from __future__ import annotations

import logging
import os
import socket

import ray

from hetspace.core.errors import HetspaceError

logger = logging.getLogger(__name__)


class ClusterNotFoundError(HetspaceError, ConnectionError):
    """``--address`` named a Ray cluster that is not running or not reachable."""


def connect(address: str | None = None, *, num_cpus: int | None = None) -> bool:
    """Make sure this process is connected to Ray; True if this call started it."""
    if ray.is_initialized():
        return False
    if address is None:
        ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), include_dashboard=False,
                 log_to_driver=False, logging_level=logging.WARNING)
        logger.info("started a local Ray instance with %s CPUs", num_cpus or os.cpu_count())
        return True
    hint = os.environ.get("RAY_ADDRESS") or None
    target = hint if address == "auto" and hint else address
    try:
        if target != "auto":
            _probe(target)  # ray.init would wait minutes for an unreachable GCS
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    except ConnectionError as e:
        where = f" (RAY_ADDRESS={hint})" if hint else ""
        raise ClusterNotFoundError(
            f"no running Ray cluster found at address {address!r}{where}: start one with "
            "`ray start --head` or `ray up cluster.yaml`, or drop --address to run locally"
        ) from e
    logger.info("joined the Ray cluster at %s", address)
    return True


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
