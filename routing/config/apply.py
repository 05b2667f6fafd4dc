"""Apply a checked config: every problem found first, then one function per section, in one transaction.

A later issue wires in its section by moving its check out of `CHECKS` and adding its function to
`SECTIONS` (in dependency order: what a section refers to is applied before it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from django.db import transaction

from routing import invalidation
from routing.config.changes import Changes
from routing.config.errors import ConfigError
from routing.config.people import apply_groups, apply_users
from routing.config.providers import apply_providers
from routing.config.references import Known, check_references
from routing.config.routes import apply_routes, check_route_conditions
from routing.config.schema import GatewayConfig
from routing.config.secrets import resolve_secrets
from routing.config.unsupported import (
    unsupported_alerts,
    unsupported_budgets,
    unsupported_prices,
)

CHECKS = (check_route_conditions, unsupported_prices, unsupported_budgets, unsupported_alerts)
SECTIONS = (apply_providers, apply_groups, apply_users, apply_routes)


def apply_config(
    config: GatewayConfig, *, environ: Mapping[str, str] | None = None, prune: bool = False, dry_run: bool = False
) -> list[str]:
    """Make the database say what `config` says; the changes made (or, dry, that would be made).
    Raises ConfigError, having changed nothing, when the file has any problem."""
    environ = os.environ if environ is None else environ
    with transaction.atomic():
        config = _checked(config, environ, prune)
        changes = Changes()
        for section in SECTIONS:
            section(config, changes, prune)
        if dry_run:
            transaction.set_rollback(True)  # the dry run walks the same code, then keeps nothing
        elif changes:
            transaction.on_commit(invalidation.publish)  # every worker drops its snapshots once, after commit
    return changes.lines


def _checked(config: GatewayConfig, environ: Mapping[str, str], prune: bool) -> GatewayConfig:
    problems = check_references(config, Known.from_database(), prune)
    problems += [problem for check in CHECKS for problem in check(config)]
    try:
        config = resolve_secrets(config, environ)
    except ConfigError as exc:
        problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return config
