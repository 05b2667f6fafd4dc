"""Fields the format defines but whose meaning a later issue brings: parsed and checked by the schema,
then refused here, by path, so a file that relies on them is never applied as if they were not there.
When an issue lands, its check leaves this module and an apply function joins apply.SECTIONS."""

from __future__ import annotations

from routing.config.schema import GatewayConfig

SPEND = "not supported yet (spend in money, issue 14)"


def unsupported_prices(config: GatewayConfig) -> list[str]:
    return [f"prices[{i}]: {SPEND}" for i in range(len(config.prices))]


def unsupported_budgets(config: GatewayConfig) -> list[str]:
    return [
        *(f"groups[{i}].budget: {SPEND}" for i, group in enumerate(config.groups) if group.budget is not None),
        *(f"groups[{i}].alert_at: {SPEND}" for i, group in enumerate(config.groups) if group.alert_at),
        *(f"users[{i}].budget: {SPEND}" for i, user in enumerate(config.users) if user.budget is not None),
    ]


def unsupported_alerts(config: GatewayConfig) -> list[str]:
    return [f"alerts: {SPEND}"] if config.alerts is not None else []
