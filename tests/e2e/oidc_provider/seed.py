"""Seed the provider: `python -m tests.e2e.oidc_provider.seed REDIRECT_URI CLIENT_ID SECRET USER:EMAIL:GROUP:PW...`"""

import sys

import django

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from oauth2_provider.models import Application  # noqa: E402


def main(redirect_uri: str, client_id: str, client_secret: str, *people: str) -> None:
    Application.objects.create(
        name="gateway",
        client_id=client_id,
        client_secret=client_secret,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=redirect_uri,
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
    )
    for person in people:
        username, email, group, password = person.split(":")
        user = User.objects.create_user(username, email=email, password=password)
        user.groups.add(Group.objects.get_or_create(name=group)[0])


if __name__ == "__main__":
    main(*sys.argv[1:])
