"""A user's own usage over time: per day (table and chart), per key and per model, filterable."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from portal.budgets import budgets_of
from routing import spend_stats, usage_stats
from routing.models import ProxyKey, UsageRollup

WINDOWS = [(7, "7 days"), (30, "30 days"), (90, "90 days")]
SUMS = {**usage_stats.TOTALS, "cost": spend_stats.SPEND["cost"]}
"""Tokens and their cost in USD (unpriced requests add nothing), from the daily rollups."""


class UsageFilter(forms.Form):
    days = forms.TypedChoiceField(choices=WINDOWS, coerce=int, required=False, empty_value=30)
    key = forms.ModelChoiceField(queryset=ProxyKey.objects.none(), required=False, empty_label="All keys")
    model = forms.ChoiceField(required=False)

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["key"].queryset = ProxyKey.objects.filter(user=user)  # another user's key is not a choice
        models = (
            UsageRollup.objects.filter(user_id=user.pk).order_by().values_list("requested_model", flat=True).distinct()
        )
        self.fields["model"].choices = [("", "All models"), *((m, m) for m in sorted(models) if m)]


def grouped(rows, *names: str) -> list[dict]:
    return list(rows.order_by().values(*names).annotate(**SUMS).order_by("-tokens"))


def per_key(rows, user) -> list[dict]:
    """Totals per key of hers, each with the key's name and prefix (rollups keep only the key's id)."""
    keys = {k.pk: k for k in ProxyKey.objects.filter(user=user)}
    return [
        {
            **row,
            "name": getattr(keys.get(row["key_id"]), "name", ""),
            "prefix": getattr(keys.get(row["key_id"]), "prefix", ""),
        }
        for row in grouped(rows, "key_id")
    ]


@login_required
def usage(request: HttpRequest) -> HttpResponse:
    form = UsageFilter(request.GET or None, user=request.user)
    wanted = form.cleaned_data if form.is_valid() else {}
    days = wanted.get("days") or 30
    rows = usage_stats.since(days).filter(user_id=request.user.pk)
    if wanted.get("key"):
        rows = rows.filter(key_id=wanted["key"].pk)
    if wanted.get("model"):
        rows = rows.filter(requested_model=wanted["model"])
    per_day = usage_stats.per_day(rows, days, SUMS)
    context = {
        "form": form,
        "days": days,
        "totals": usage_stats.totals(rows, SUMS),
        "per_day": per_day,
        "bars": usage_stats.bars([(d["day"], d["tokens"]) for d in per_day]),
        "per_key": per_key(rows, request.user),
        "per_model": [{**row, "model": row["requested_model"]} for row in grouped(rows, "requested_model")],
        "budgets": budgets_of(request.user),
    }
    return render(request, "portal/usage.html", context)
