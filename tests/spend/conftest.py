"""Spend tests drive the real views like the integration tests, with their upstream and gateway fixtures."""

from tests.integration.conftest import gateway, upstream  # noqa: F401
