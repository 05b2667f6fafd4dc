"""Signing in and out of the portal: a local password (rate-limited by django-axes) or single sign-on."""

from __future__ import annotations

from django.conf import settings
from django.contrib.admin.models import CHANGE
from django.contrib.auth import SESSION_KEY
from django.contrib.auth import logout as end_session
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.sessions.models import Session
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from routing import audit


class LoginView(auth_views.LoginView):
    template_name = "portal/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs) -> dict:
        return {
            **super().get_context_data(**kwargs),
            "sso_enabled": settings.SSO_ENABLED,
            "sso_failed": "sso" in self.request.GET,
        }


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    end_session(request)
    return redirect("portal:login")


@login_required
@require_POST
def logout_everywhere(request: HttpRequest) -> HttpResponse:
    audit.record(request, request.user, CHANGE, "Signed out everywhere in the portal")
    end_sessions_of(request.user)
    end_session(request)
    return redirect("portal:login")


def end_sessions_of(user) -> int:
    """Delete every live session signed in as `user`; how many. Sessions live in the database (Django's
    default SESSION_ENGINE, which settings keep), where the user id is only inside the encoded data, so
    each live session is decoded: a few thousand rows at most, and only when someone presses the button."""
    live = Session.objects.filter(expire_date__gt=timezone.now())
    hers = [s.pk for s in live.iterator() if s.get_decoded().get(SESSION_KEY) == str(user.pk)]
    return Session.objects.filter(pk__in=hers).delete()[0]
