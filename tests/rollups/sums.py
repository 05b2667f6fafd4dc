"""What the rollups should hold: the raw log's sums per rollup key, computed in Python."""

from __future__ import annotations

from routing import rollups
from routing.models import UsageLog, UsageRollup


def rollup_table() -> dict[tuple, tuple]:
    """The rollup rows, by key: (requests, errors, unpriced, four token sums, cost)."""
    return {
        tuple(getattr(r, c) for c in rollups.KEY): (*(getattr(r, c) for c in rollups.SUMS), r.cost_usd)
        for r in UsageRollup.objects.all()
    }


def log_sums() -> dict[tuple, tuple]:
    """The same, folded from every usage row the database holds."""
    return {key: tuple(sums) for key, sums in rollups.fold(UsageLog.objects.all()).items()}
