"""Signing in and out of the portal: a local password (rate-limited by django-axes) or single sign-on."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import logout as end_session
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST


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
