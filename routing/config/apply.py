"""Apply a checked config: every problem found first, then one function per section, in one transaction.

A section's checks that need more than the schema join `CHECKS`; its function joins `SECTIONS` in
dependency order: what a section refers to is applied before it (providers before prices, users before
their budgets).
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
from routing.config.spend import apply_alerts, apply_budgets, apply_prices, check_spend_values

CHECKS = (check_route_conditions, check_spend_values)
SECTIONS = (apply_providers, apply_prices, apply_groups, apply_users, apply_budgets, apply_routes, apply_alerts)


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
