import pytest

from routing import snapshot


@pytest.fixture(autouse=True)
def _fresh_snapshots():
    """Each test sees the database as it is, not a snapshot left by the previous test."""
    snapshot.invalidate_all()
    yield
    snapshot.invalidate_all()
