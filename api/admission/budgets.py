"""Budgets of a key, its user and its teams, in tokens and in USD, held in the shared counters.

Each budget with a limit is one counter per unit and period: `budget:{scope}:{owner}:{period}` in
tokens (the key's name is the one limits.py always used) and `budget:{scope}:{owner}:usd:{period}` in
micro-dollars. A request reserves its input estimate plus its largest output on every one of them
(in USD at the highest price among the targets it may reach); when it ends each is settled to what the
row says it used (its tokens, its cost). A counter missing from the store is loaded from the usage log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from api.admission.counters import Check
from routing.budget_info import BudgetInfo
from routing.periods import Period, period_of
from routing.prices import MICRO, PriceTable, Rates, micros
from routing.resolve import RouteInfo

TOTAL_BUDGET_REFRESH = 24 * 3600
"""A total budget's counter is reloaded from the usage log once a day (other periods: when they end)."""
WHOSE = {"key": "This API key", "user": "Your user", "team": "Your team"}


@dataclass(frozen=True, slots=True)
class BudgetCheck:
    budget: BudgetInfo
    money: bool
    check: Check


def counter_name(budget: BudgetInfo, period: Period, money: bool) -> str:
    unit = "usd:" if money else ""
    return f"budget:{budget.scope}:{budget.owner_id}:{unit}{period.label}"


def budget_checks(budgets: Iterable[BudgetInfo], tokens: int, micros: int) -> list[BudgetCheck]:
    """One check per budget and unit it limits."""
    found = []
    for budget in budgets:
        period = period_of(budget.period)
        if budget.tokens:
            found.append(BudgetCheck(budget, False, Check(counter_name(budget, period, False), budget.tokens, tokens)))
        if budget.usd_micros is not None:
            name = counter_name(budget, period, True)
            found.append(BudgetCheck(budget, True, Check(name, budget.usd_micros, micros, money=True)))
    return found


def most_costly(routes: Iterable[RouteInfo], prices: PriceTable, input_tokens: int, output_tokens: int) -> int | None:
    """Micro-dollars the request may cost on the dearest target it may reach (input at the dearer of the
    input and cache-write prices); None when one of them is unpriced, so a USD budget cannot bound it."""
    worst = 0
    for route in routes:
        for target in route.targets:
            rates = prices.rates(target.provider.id, target.model)
            if rates is None:
                return None
            dearest_input = Rates(
                max(rates.input, rates.cache_write), rates.output, rates.cache_read, rates.cache_write
            )
            worst = max(worst, micros(dearest_input.cost(input_tokens, output_tokens)))
    return worst


def ttl_of(period: Period, now: float) -> int:
    return int(period.end.timestamp() - now) + 3600 if period.end else TOTAL_BUDGET_REFRESH


def refusal_message(found: BudgetCheck, used: int, amount: int) -> str:
    """Which budget refused, what is left of it and when it resets."""
    budget, period = found.budget, period_of(found.budget.period)
    per = "in total" if period.start is None else f"per {period.kind}"
    resets = "" if period.end is None else f" It resets at {period.end.isoformat()}."
    whose = WHOSE[budget.scope] if budget.scope != "team" else f"Your team {budget.owner!r}"
    limit = found.check.limit
    show = _usd if found.money else _tokens
    if used >= limit:
        return f"{whose} has used its budget of {show(limit)} {per}.{resets}"
    return (
        f"{whose} has {show(limit - used)} left of its budget of {show(limit)} {per};"
        f" this request may use up to {show(amount)} (its input and max_tokens): lower max_tokens.{resets}"
    )


def _usd(micros: int) -> str:
    return f"${Decimal(micros) * MICRO:.2f}" if micros % 10_000 == 0 else f"${Decimal(micros) * MICRO:.6f}"


def _tokens(n: int) -> str:
    return f"{n} tokens"
