"""What the provider pages say about a provider's health: its circuit as every worker shares it
(api/forward/health.py), read from the shared store when the page is drawn."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from django.utils.html import format_html

from api.forward import health
from routing.models import Provider

STATE_COLOURS = {"closed": "#2e7d32", "half-open": "#b26a00", "open": "#c62828"}


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def state_badge(provider: Provider) -> str:
    """The changelist column: closed, half-open or open."""
    circuit = health.current().get(provider.pk)
    state = circuit.state(time.time()) if circuit else "closed"
    return format_html('<b style="color:{}">{}</b>', STATE_COLOURS[state], state)


def details(provider: Provider) -> str:
    """The change page's field: state, failures in the window, last error and when, cooling until."""
    circuit, now = health.current().get(provider.pk), time.time()
    if circuit is None:
        return format_html("{} — no failure in the last {} s", state_badge(provider), provider.circuit_window)
    failures = circuit.failures_within(provider.circuit_window, now)
    cooling = _when(circuit.until) if circuit.until > now else "—"
    return format_html(
        "{}<br>failures in the last {} s: {}<br>last error: {} at {}<br>cooling until: {}",
        state_badge(provider),
        provider.circuit_window,
        failures,
        circuit.error or "—",
        _when(circuit.error_at) if circuit.error_at else "—",
        cooling,
    )
