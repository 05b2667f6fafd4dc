import pytest

from routing import snapshot


@pytest.fixture(autouse=True)
def _fresh_snapshots():
    """Each test sees the database as it is, not a snapshot left by the previous test."""
    snapshot.invalidate_all()
    yield
    snapshot.invalidate_all()


@pytest.fixture(autouse=True, scope="session")
def _close_worker_thread_connections(django_db_setup, django_db_blocker):
    """Async code reaches the database from asgiref's one worker thread, whose connection outlives
    the tests: close it before the test database is dropped (PostgreSQL refuses to drop one in use)."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    with django_db_blocker.unblock():
        SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=10)


@pytest.fixture(autouse=True, scope="session")
def _state_dir(tmp_path_factory):
    """Journal and limit counters of the test process live in a fresh folder, never the checkout's var/."""
    from django.conf import settings

    settings.STATE_DIR = tmp_path_factory.mktemp("state")
    yield settings.STATE_DIR


@pytest.fixture
def journal_dir(settings, tmp_path):
    """The process's usage journal, started afresh in `tmp_path/journal` for this test."""
    from api.accounting.journal import journal
    from api.accounting.usage import writer

    assert writer.flush(10.0)
    journal.close()
    settings.STATE_DIR = tmp_path
    yield tmp_path / "journal"
    assert writer.flush(10.0)
    journal.close()
