"""The portal's key pages: a user's own keys only; anyone else's answer 404, as if they did not exist."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib.admin.models import ADDITION, CHANGE
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from portal.forms import KeyForm
from portal.policy import PolicyRefusal, active_keys, creation_refusal, issue_key, policy_for
from portal.reach import models_open_to
from routing import audit
from routing.models import ProxyKey
from routing.usage_stats import key_usage


def own_key(request: HttpRequest, pk: int) -> ProxyKey:
    return get_object_or_404(ProxyKey, pk=pk, user=request.user)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    policy = policy_for(request.user)
    keys = list(ProxyKey.objects.filter(user=request.user).order_by("-created_at", "-id"))
    context = {
        "keys": [(key, key_usage(key)) for key in keys],
        "policy": policy,
        "refusal": creation_refusal(request.user, policy),
        "active_count": active_keys(request.user).count(),
        "reach": models_open_to(request.user),
    }
    return render(request, "portal/home.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def new_key(request: HttpRequest) -> HttpResponse:
    policy = policy_for(request.user)
    refusal = creation_refusal(request.user, policy)
    form = KeyForm(request.POST or None, policy=policy)
    if request.method == "POST" and refusal is None and form.is_valid():
        try:
            key, secret = issue_key(request.user, policy, form.cleaned_data)
        except PolicyRefusal as exc:  # the last key taken by a request at the same time
            refusal = str(exc)
        else:
            audit.record(request, key, ADDITION, "Issued in the portal")
            return issued(request, key, secret)
    status = 403 if refusal and request.method == "POST" else 200
    return render(request, "portal/new_key.html", {"form": form, "refusal": refusal, "policy": policy}, status=status)


def issued(request: HttpRequest, key: ProxyKey, secret: str) -> HttpResponse:
    """The only page that ever shows the secret: with the setup line and settings.json ready to paste."""
    base_url = settings.PORTAL_GATEWAY_URL or request.build_absolute_uri("/").rstrip("/")
    context = {
        "key": key,
        "secret": secret,
        "shell_line": f"ANTHROPIC_BASE_URL={base_url} ANTHROPIC_API_KEY={secret} claude",
        "settings_json": json.dumps({"env": {"ANTHROPIC_BASE_URL": base_url, "ANTHROPIC_API_KEY": secret}}, indent=2),
    }
    response = render(request, "portal/issued.html", context)
    response["Cache-Control"] = "no-store"  # the secret stays out of every cache and the back button
    return response


@login_required
def key_detail(request: HttpRequest, pk: int) -> HttpResponse:
    key = own_key(request, pk)
    return render(request, "portal/key.html", {"key": key, "usage": key_usage(key)})


@login_required
@require_POST
def revoke_key(request: HttpRequest, pk: int) -> HttpResponse:
    key = own_key(request, pk)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit.record(request, key, CHANGE, "Revoked in the portal")
    if request.headers.get("HX-Request"):
        return render(request, "portal/key_row.html", {"key": key, "usage": key_usage(key)})
    return redirect("portal:home")
