"""Shared fixtures: the sample museum world and its loopback servers (never the internet)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def world():
    from metdata.sample.world import build_world

    return build_world(seed=0)


@pytest.fixture()
def sample_server(world):
    """A fresh loopback server over the shared world: empty request log, no faults."""
    from metdata.sample.services import start_sample_server

    server = start_sample_server(world=world)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def one_torch_thread():
    """Tiny test inputs gain nothing from threads, and on a busy shared machine extra threads only contend."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
