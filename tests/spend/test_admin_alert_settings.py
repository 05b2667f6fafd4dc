"""The alert webhook URL in the admin is write-only, like a provider's key: stored encrypted, shown
masked, kept when the form is saved blank, removed only when asked."""

import pytest

from routing.models import AlertSettings

pytestmark = pytest.mark.django_db

HOOK = "https://hooks.example.test/services/T0/B0/secret-hook-token-1234"
PAGE = "/admin/routing/alertsettings/"


def test_a_saved_url_is_stored_encrypted_and_never_shown_again(admin_client):
    assert admin_client.post(f"{PAGE}add/", {"webhook_url": HOOK}).status_code == 302

    stored = AlertSettings.current()
    assert stored.webhook_url == HOOK and "secret-hook-token" not in stored.webhook_url_encrypted
    page = admin_client.get(f"{PAGE}1/change/").content.decode()
    assert "secret-hook-token" not in page and "hooks.example.test" not in page
    assert "...1234" in page


def test_a_blank_save_keeps_the_url_and_clear_removes_it(admin_client):
    admin_client.post(f"{PAGE}add/", {"webhook_url": HOOK})

    admin_client.post(f"{PAGE}1/change/", {"webhook_url": ""})
    assert AlertSettings.current().webhook_url == HOOK

    admin_client.post(f"{PAGE}1/change/", {"webhook_url": "", "clear_webhook_url": "on"})
    assert AlertSettings.current().webhook_url == ""


def test_there_is_one_row_only(admin_client):
    admin_client.post(f"{PAGE}add/", {"webhook_url": HOOK})

    assert admin_client.get(f"{PAGE}add/").status_code == 403
    assert AlertSettings.objects.count() == 1


def test_a_url_that_is_not_http_is_refused(admin_client):
    response = admin_client.post(f"{PAGE}add/", {"webhook_url": "ftp://hooks.example.test/x"})

    assert response.status_code == 200 and not AlertSettings.objects.exists()
