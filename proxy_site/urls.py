from django.contrib import admin
from django.urls import include, path, re_path

from api import views
from api.accounting import metrics

urlpatterns = [
    path("", views.root, name="root"),
    path("health", views.health, name="health"),
    path("test-connection", views.test_connection, name="test-connection"),
    path("metrics", metrics.view, name="metrics"),
    path("v1/messages", views.messages, name="messages"),
    path("v1/messages/count_tokens", views.count_tokens, name="count-tokens"),
    path("v1/models", views.models_list, name="models"),
    re_path(r"^v1/(?P<path>.*)$", views.not_found),
    path("admin/", admin.site.urls),
    path("api/v1/", include("routing.rest.urls")),
    path("portal/", include("portal.urls")),
    path("oidc/", include("mozilla_django_oidc.urls")),
]

admin.site.site_header = "Anthropic gateway"
admin.site.site_title = "Anthropic gateway"
admin.site.index_title = "Providers, routes, keys and usage"
