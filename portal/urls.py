from django.urls import path

from portal import sign_in, usage, views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", sign_in.LoginView.as_view(), name="login"),
    path("logout/", sign_in.logout, name="logout"),
    path("logout/everywhere/", sign_in.logout_everywhere, name="logout-everywhere"),
    path("keys/new/", views.new_key, name="new-key"),
    path("keys/<int:pk>/", views.key_detail, name="key"),
    path("keys/<int:pk>/revoke/", views.revoke_key, name="revoke-key"),
    path("usage/", usage.usage, name="usage"),
]
