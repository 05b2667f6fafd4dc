"""URLs of the management API, mounted at /api/v1/ by proxy_site/urls.py."""

from django.conf import settings
from django.urls import path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.routers import SimpleRouter

from routing.rest import views

router = SimpleRouter()
router.register("keys", views.KeyViewSet, basename="key")
router.register("usage", views.UsageViewSet, basename="usage")

# Schema settings live here, beside the only API they describe, not in the global settings.
SCHEMA_SETTINGS = {
    "TITLE": "anthropic-gateway management API",
    "DESCRIPTION": "Proxy keys and the usage log. See docs/management-api.md.",
    "VERSION": settings.VERSION,
    "SCHEMA_PATH_PREFIX": "/api/v1",
}

# Signed-in callers only, like every other endpoint here: the API's shape is nobody else's business.
schema_view = SpectacularAPIView.as_view(custom_settings=SCHEMA_SETTINGS, permission_classes=[IsAuthenticated])

urlpatterns = [
    path("schema/", schema_view, name="api-schema"),
    path("token/revoke/", views.RevokeOwnToken.as_view(), name="api-token-revoke"),
    *router.urls,
]
