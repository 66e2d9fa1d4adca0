"""Fixtures every state test shares: a fresh fake cluster and the state run's ``__opts__``."""

import pytest

from tests.unit.states.state_fakes import FakeCluster


@pytest.fixture
def cluster():
    return FakeCluster()


@pytest.fixture
def opts():
    return {"test": False}
