"""Setting prices and budgets from code: what `apply_config` calls for the file's `prices`, `groups` and
`users` sections (docs: config.md), with the same rules as the admin (the models' own validation)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.contrib.auth.models import Group
from django.utils import timezone

from routing.models import Price, Provider, TeamBudget, UserBudget
from routing.prices import RATE_FIELDS
from routing.spend import clean_fractions


def set_price(provider: Provider, model: str, effective_from: date | None = None, **rates: Decimal | None) -> Price:
    """The price of `provider`/`model` from `effective_from` (default: today), created or updated in
    place; a rate given as None (or left out) comes from the catalogue. Older dated rows are kept, so
    rows written before keep their cost."""
    unknown = set(rates) - set(RATE_FIELDS)
    if unknown:
        raise ValueError(f"unknown price fields: {', '.join(sorted(unknown))}")
    day = effective_from or timezone.localdate()
    price = Price.objects.filter(provider=provider, model=model, effective_from=day).first()
    price = price or Price(provider=provider, model=model, effective_from=day)
    for field in RATE_FIELDS:
        setattr(price, field, rates.get(field))
    price.full_clean()
    price.save()
    return price


def set_budget(
    owner,
    *,
    usd: Decimal | None = None,
    tokens: int | None = None,
    period: str = "month",
    alert_at: list[float] | None = None,
) -> UserBudget | TeamBudget:
    """The budget of a user or a group (a team), created or replaced: `{usd, tokens, period}` and
    `alert_at` as the config file writes them."""
    model, field = (TeamBudget, "group") if isinstance(owner, Group) else (UserBudget, "user")
    budget = model.objects.filter(**{field: owner}).first() or model(**{field: owner})
    budget.usd, budget.tokens, budget.period = usd, tokens, period
    budget.alert_at = clean_fractions(list(alert_at or []))
    budget.full_clean()
    budget.save()
    return budget


def clear_budget(owner) -> None:
    """Remove a user's or group's budget (the file no longer names one)."""
    model, field = (TeamBudget, "group") if isinstance(owner, Group) else (UserBudget, "user")
    model.objects.filter(**{field: owner}).delete()
