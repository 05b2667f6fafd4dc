"""What users may do for themselves in the portal: one policy per group, and one default (no group)."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Coalesce

from routing.models import ProxyKey

LIMITS = ("rpm", "tpm", "budget_tokens")
"""Each limit has a `default_<name>` (filled into the form) and a `max_<name>` (the most a key may get)."""


class PortalPolicy(models.Model):
    group = models.OneToOneField(
        Group,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="portal_policy",
        help_text="Empty: the default.",
    )
    priority = models.IntegerField(default=100, help_text="A user in several groups gets the lowest number's policy.")
    may_create_keys = models.BooleanField(default=True)
    max_keys = models.PositiveIntegerField(null=True, blank=True, help_text="Active keys per user; empty: no limit.")
    default_rpm = models.PositiveIntegerField(null=True, blank=True, verbose_name="default requests per minute")
    max_rpm = models.PositiveIntegerField(null=True, blank=True, verbose_name="maximum requests per minute")
    default_tpm = models.PositiveIntegerField(null=True, blank=True, verbose_name="default tokens per minute")
    max_tpm = models.PositiveIntegerField(null=True, blank=True, verbose_name="maximum tokens per minute")
    default_budget_tokens = models.PositiveBigIntegerField(null=True, blank=True)
    max_budget_tokens = models.PositiveBigIntegerField(null=True, blank=True)
    budget_period = models.CharField(max_length=8, choices=ProxyKey.Period.choices, default=ProxyKey.Period.MONTH)
    allowed_models = models.CharField(
        max_length=500, blank=True, help_text="Comma-separated globs given to every key; empty allows every model."
    )
    key_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Keys expire after at most this many days; empty: they may never expire."
    )

    class Meta:
        ordering = ["priority", "id"]
        verbose_name = "portal policy"
        verbose_name_plural = "portal policies"
        constraints = [
            # One policy per group, and one default: the default's group is NULL, counted as 0.
            models.UniqueConstraint(Coalesce("group", models.Value(0)), name="portal_one_policy_per_group"),
        ]

    def __str__(self) -> str:
        return f"policy of {self.group}" if self.group_id else "default policy"

    def clean(self) -> None:
        errors = {}
        for name in ("rpm", "tpm", "budget_tokens"):
            default, most = getattr(self, f"default_{name}"), getattr(self, f"max_{name}")
            if most is not None and (default is None or default > most):
                errors[f"default_{name}"] = f"Must be set and at most the maximum ({most})."
        if self.group_id is None and PortalPolicy.objects.filter(group=None).exclude(pk=self.pk).exists():
            errors["group"] = "There is a default policy already: pick a group."
        if errors:
            raise ValidationError(errors)

    def model_patterns(self) -> list[str]:
        return [p.strip() for p in self.allowed_models.split(",") if p.strip()]
