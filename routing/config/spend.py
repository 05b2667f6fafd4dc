"""The spend sections: `prices`, the budgets of `groups` and `users`, and `alerts` (docs/config.md).

Each compares before it writes, so a second apply changes nothing. A file's price takes effect today
when the price in force differs (older usage rows keep the cost they had); prices are never deleted,
with or without --prune, since they price the rows before them. A group or user the file names without
a budget has none: its budget is removed (the file says what is).
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from routing.config.changes import Changes
from routing.config.schema import BudgetSpec, GatewayConfig
from routing.credentials import CredentialError
from routing.models import AlertSettings, Price, Provider, TeamBudget, UserBudget
from routing.prices import RATE_FIELDS
from routing.spend import clean_fractions
from routing.spend_setup import clear_budget, set_budget, set_price

RATE_PLACES, RATE_DIGITS = 6, 12  # Price's decimal fields
USD_PLACES, USD_DIGITS = 2, 12  # a budget's


def check_spend_values(config: GatewayConfig) -> list[str]:
    """What the schema cannot see: amounts the database columns cannot hold exactly."""
    problems = [
        f"prices[{i}].{field}: {problem}"
        for i, price in enumerate(config.prices)
        for field in RATE_FIELDS
        if (problem := _decimal_problem(getattr(price, field), RATE_PLACES, RATE_DIGITS))
    ]
    for section, specs in (("groups", config.groups), ("users", config.users)):
        for i, spec in enumerate(specs):
            if spec.budget and (problem := _decimal_problem(spec.budget.usd, USD_PLACES, USD_DIGITS)):
                problems.append(f"{section}[{i}].budget.usd: {problem}")
            if spec.alert_at and spec.budget is None:
                problems.append(f"{section}[{i}].alert_at: alerts need a budget")
    return problems


def _decimal_problem(value: float | None, places: int, digits: int) -> str | None:
    if value is None:
        return None
    exponent = Decimal(str(value)).as_tuple().exponent
    if exponent < -places:
        return f"at most {places} decimal places"
    if value >= 10 ** (digits - places):
        return f"must be below {10 ** (digits - places):,}"
    return None


def _decimal(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def apply_prices(config: GatewayConfig, changes: Changes, prune: bool) -> None:
    providers = {p.name: p for p in Provider.objects.filter(name__in={s.provider for s in config.prices})}
    for spec in config.prices:
        provider = providers[spec.provider]
        wanted = {field: _decimal(getattr(spec, field)) for field in RATE_FIELDS}
        current = price_in_force(provider, spec.model)
        if current is not None and {f: getattr(current, f) for f in RATE_FIELDS} == wanted:
            continue
        set_price(provider, spec.model, **wanted)
        changes.add(
            "price",
            f"{spec.provider} / {spec.model}",
            "created" if current is None else "changed (in force from today)",
        )


def price_in_force(provider: Provider, model: str) -> Price | None:
    """The admin's (or a file's) price of this model today: the latest from today or before."""
    today = timezone.localdate()
    prices = Price.objects.filter(provider=provider, model=model, effective_from__lte=today)
    return prices.order_by("-effective_from").first()


def apply_budgets(config: GatewayConfig, changes: Changes, prune: bool) -> None:
    User = get_user_model()
    groups = Group.objects.filter(name__in=[g.name for g in config.groups])
    users = User.objects.filter(**{f"{User.USERNAME_FIELD}__in": [u.name for u in config.users]})
    by_name = {g.name: g for g in groups} | {getattr(u, User.USERNAME_FIELD): u for u in users}
    for what, specs in (("group", config.groups), ("user", config.users)):
        for spec in specs:
            _apply_budget(by_name[spec.name], spec.budget, spec.alert_at, f"{what} {spec.name}", changes)


def _apply_budget(owner, spec: BudgetSpec | None, alert_at: list[float], name: str, changes: Changes) -> None:
    model, field = (TeamBudget, "group") if isinstance(owner, Group) else (UserBudget, "user")
    current = model.objects.filter(**{field: owner}).first()
    if spec is None:
        if current is not None:
            clear_budget(owner)
            changes.add("budget of", name, "removed")
        return
    wanted = {"usd": _decimal(spec.usd), "tokens": spec.tokens, "period": spec.period}
    wanted["alert_at"] = clean_fractions(list(alert_at))
    if current is not None and {f: getattr(current, f) for f in wanted} == wanted:
        return
    set_budget(owner, **wanted)
    changes.add("budget of", name, "created" if current is None else "changed")


def apply_alerts(config: GatewayConfig, changes: Changes, prune: bool) -> None:
    """A file without `alerts` leaves the stored webhook as it is (as the admin set it)."""
    if config.alerts is None:
        return
    stored = AlertSettings.current()
    try:
        same = stored.webhook_url == config.alerts.webhook_url
    except CredentialError:  # a URL stored under a rotated-out key: the file's replaces it
        same = False
    if not same:
        stored.webhook_url = config.alerts.webhook_url
        stored.save()
        changes.add("alerts", "webhook_url", "changed")
