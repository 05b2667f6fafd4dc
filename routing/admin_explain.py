"""The route admin's "try a request" page: paste a body, pick a user, see how the gateway routes it
(the same report as `manage.py explain_route`, routing/trying.py)."""

from __future__ import annotations

import orjson
from django import forms
from django.contrib.auth import get_user_model
from django.template.response import TemplateResponse
from django.urls import path

from routing.trying import try_request


class TryRequestForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 14, "cols": 100}), help_text="A Messages request body.")
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.order_by("username"),
        required=False,
        help_text="Route as this user (their scoped routes apply); empty: a caller with no user.",
    )
    headers = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 100}),
        required=False,
        help_text='One "name: value" a line, e.g. anthropic-beta: context-1m-2025-08-07',
    )

    def clean_body(self):
        try:
            return orjson.loads(self.cleaned_data["body"])
        except orjson.JSONDecodeError as exc:
            raise forms.ValidationError(f"not JSON: {exc}") from None

    def clean_headers(self):
        headers = {}
        for line in self.cleaned_data["headers"].splitlines():
            if not line.strip():
                continue
            name, sep, value = line.partition(":")
            if not sep or not name.strip():
                raise forms.ValidationError(f"{line!r}: write it as 'name: value'")
            headers[name.strip().lower()] = value.strip()
        return headers


class TryRequestMixin:
    """Adds `try/` to a ModelAdmin of routes; anyone who may view routes may use it (it calls nothing)."""

    def get_urls(self):
        view = self.admin_site.admin_view(self.try_request_view)
        return [path("try/", view, name="routing_modelroute_try"), *super().get_urls()]

    def try_request_view(self, request) -> TemplateResponse:
        if not self.has_view_permission(request):
            return TemplateResponse(request, "admin/base_site.html", status=403)
        form = TryRequestForm(request.POST or None)
        report = None
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                report = "\n".join(try_request(data["body"], data["headers"], user=data["user"]))
            except ValueError as exc:
                form.add_error("body", str(exc))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Try a request",
            "form": form,
            "report": report,
        }
        return TemplateResponse(request, "admin/routing/modelroute/try_request.html", context)
