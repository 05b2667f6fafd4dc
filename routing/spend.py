"""The data of spend in money: prices per provider and model, budgets of people and teams, sent alerts.

Imported by routing/models.py, so Django finds these models in the `routing` app; foreign keys to the
app's other models are by name, so this module never imports models.py.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from routing import credentials

PERIODS = [("day", "day"), ("week", "week"), ("month", "month"), ("total", "total")]


def _rate(label: str) -> models.DecimalField:
    return models.DecimalField(
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        verbose_name=f"{label} (USD per million tokens)",
        help_text="Empty: from the bundled price catalogue.",
    )


def usd_budget_field(**options) -> models.DecimalField:
    """A budget in USD: cents, never negative (keys, users and teams alike)."""
    return models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        verbose_name="budget (USD)",
        **options,
    )


def local_today():
    return timezone.localdate()


class Price(models.Model):
    """What one upstream model of one provider costs from `effective_from` on (the server's local date).
    A field left empty comes from the bundled catalogue; a model neither prices is unpriced."""

    provider = models.ForeignKey("routing.Provider", on_delete=models.CASCADE, related_name="prices")
    model = models.CharField(max_length=200, help_text="The model name the provider knows, as in a route target.")
    input = _rate("input")
    output = _rate("output")
    cache_read = _rate("cache read")
    cache_write = _rate("cache write")
    effective_from = models.DateField(default=local_today, help_text="Rows from this day on are priced with it.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider__name", "model", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "model", "effective_from"], name="unique_price_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} from {self.effective_from}"


class BudgetFields(models.Model):
    """A spend limit per period, in USD and/or tokens, with the fractions at which it alerts."""

    usd = usd_budget_field()
    tokens = models.PositiveBigIntegerField(null=True, blank=True, verbose_name="budget (tokens)")
    period = models.CharField(max_length=8, choices=PERIODS, default="month")
    alert_at = models.JSONField(
        default=list,
        blank=True,
        help_text="Fractions of the budget that send one alert per period, e.g. [0.5, 0.8, 1].",
    )

    class Meta:
        abstract = True

    def clean(self) -> None:
        self.alert_at = clean_fractions(self.alert_at)


def clean_fractions(value: object) -> list[float]:
    """`alert_at` as a sorted list of fractions in (0, 1]; a ValidationError names what is wrong."""
    if not isinstance(value, list) or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        raise ValidationError({"alert_at": "must be a list of numbers, e.g. [0.5, 0.8, 1]"})
    if any(not 0 < v <= 1 for v in value):
        raise ValidationError({"alert_at": "each fraction must be above 0 and at most 1"})
    return sorted({float(v) for v in value})


class UserBudget(BudgetFields):
    """A person's budget: every key of theirs counts toward it."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="budget")

    class Meta:
        verbose_name = "user budget"

    def __str__(self) -> str:
        return f"budget of {self.user}"


class TeamBudget(BudgetFields):
    """A team's (Django group's) budget: every member's keys count toward it."""

    group = models.OneToOneField(Group, on_delete=models.CASCADE, related_name="budget")

    class Meta:
        verbose_name = "team budget"

    def __str__(self) -> str:
        return f"budget of {self.group}"


class BudgetAlert(models.Model):
    """One alert sent (or being sent): unique per budget, period and threshold, so every worker that
    sees a budget cross a threshold tries to insert it and only the first one sends."""

    scope = models.CharField(max_length=8)
    owner_id = models.PositiveIntegerField()
    period = models.CharField(max_length=64, help_text="The period's label, e.g. month@2026-12-01T00:00:00+00:00.")
    threshold = models.DecimalField(max_digits=5, decimal_places=4)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["scope", "owner_id", "period", "threshold"], name="unique_budget_alert")
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.owner_id} {self.period} at {self.threshold}"


class AlertSettings(models.Model):
    """Where budget alerts go, set from the admin or the config file's `alerts` section: one row (pk 1).
    The webhook URL is a secret (a Slack hook URL is its own credential), so it is stored encrypted
    like a provider's key; empty, alerts go to ALERT_WEBHOOK_URL."""

    webhook_url_encrypted = models.TextField(blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "alert settings"

    def __str__(self) -> str:
        return "alert settings"

    def save(self, *args, **kwargs) -> None:
        self.pk = 1  # one row: a second save is the same row
        super().save(*args, **kwargs)

    @classmethod
    def current(cls) -> AlertSettings:
        return cls.objects.filter(pk=1).first() or cls(pk=1)

    @property
    def webhook_url(self) -> str:
        return credentials.decrypt(self.webhook_url_encrypted)

    @webhook_url.setter
    def webhook_url(self, value: str) -> None:
        self.webhook_url_encrypted = credentials.encrypt(value) if value else ""
