"""Transitions of heterogeneous-agent blocks: nonlinear perfect-foresight paths at
given input paths and sequence-space Jacobians by the fake-news algorithm (Auclert,
Bardoczy, Rognlie and Straub 2021), for any block offering :class:`HetBlock`.
Model-agnostic: the workhorse's adapter is ``incomplete_markets.transition``."""

from .block import HetBlock, OutputIdentity, Path, nonlinear_path
from .fake_news import SequenceJacobian, fake_news_chunks, fake_news_jacobian
from .project import ProjectedBlock

__all__ = ["HetBlock", "OutputIdentity", "Path", "ProjectedBlock", "SequenceJacobian",
           "fake_news_chunks", "fake_news_jacobian", "nonlinear_path"]
