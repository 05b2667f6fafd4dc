import secrets
from datetime import UTC, datetime

import pytest
import time_machine

from routing import snapshot

# One id per run of the suite, in its PostgreSQL test database's name and its cache keys: two runs on
# one PostgreSQL and Redis (two checkouts, or two runs of one) never share a database or a counter.
RUN_ID = secrets.token_hex(4)


def pytest_addoption(parser):
    parser.addoption(
        "--fake-now",
        metavar="'YYYY-MM-DD HH:MM:SS'",
        help="start the clock at this UTC time and let it run (time-machine); `make test-dates` uses it",
    )


def pytest_configure(config):
    from django.conf import settings

    settings.CACHES["default"]["KEY_PREFIX"] = f"{settings.CACHES['default']['KEY_PREFIX']}:test-{RUN_ID}"
    if fake_now := config.getoption("--fake-now"):
        start = datetime.fromisoformat(fake_now)
        traveller = time_machine.travel(start if start.tzinfo else start.replace(tzinfo=UTC), tick=True)
        traveller.start()
        config.add_cleanup(traveller.stop)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """This run's own test database on a server (SQLite's is in memory: private already)."""
    from django.conf import settings

    for db in settings.DATABASES.values():
        if db["ENGINE"] != "django.db.backends.sqlite3":
            test = db.setdefault("TEST", {})
            test["NAME"] = f"{test.get('NAME') or 'test_' + db['NAME']}_{RUN_ID}"


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


@pytest.fixture(autouse=True)
def _fresh_limit_counters(_state_dir):
    """Each test starts with no requests, tokens or budgets counted against any key, every circuit closed
    and no target busy or measured."""
    from api.admission.counters import store
    from api.forward import balance, health

    store().clear()
    health.forget()
    balance.inflight.clear()
    balance.latency.clear()
    yield


@pytest.fixture(autouse=True)
def _no_failed_logins_carried_over():
    """The test client calls from 127.0.0.1: one test's failed authentications never block the next's."""
    from api.admission import throttle

    yield
    throttle._blocked.clear()  # the failures themselves are on the limit counters, cleared per test


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
