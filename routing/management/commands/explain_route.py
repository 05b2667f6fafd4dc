import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from routing.models import ProxyKey
from routing.trying import try_request


class Command(BaseCommand):
    help = "Show how the gateway routes an Anthropic request body: each route in order, why it matches or not."

    def add_arguments(self, parser):
        parser.add_argument("file", help="a JSON file holding a Messages request body")
        who = parser.add_mutually_exclusive_group()
        who.add_argument("--user", help="route as this user (their scoped routes apply)")
        who.add_argument("--key", help="route as the user of the key with this prefix; its allowlist is checked")
        parser.add_argument(
            "--header", action="append", default=[], help='a request header, "name: value" (repeatable)'
        )

    def handle(self, *args, file, user, key, header, **options):
        try:
            with open(file, encoding="utf-8") as f:
                body = json.load(f)
        except (OSError, ValueError) as exc:
            raise CommandError(f"{file}: {exc}") from None
        headers = dict(self._header(h) for h in header)
        try:
            lines = try_request(body, headers, user=self._user(user), key=self._key(key))
        except ValueError as exc:
            raise CommandError(f"{file}: {exc}") from None
        self.stdout.write("\n".join(lines))

    def _header(self, text: str) -> tuple[str, str]:
        name, sep, value = text.partition(":")
        if not sep or not name.strip():
            raise CommandError(f"--header {text!r}: write it as 'name: value'")
        return name.strip().lower(), value.strip()

    def _user(self, name):
        if name is None:
            return None
        found = get_user_model().objects.filter(username=name).first()
        if found is None:
            raise CommandError(f"no user named {name!r}")
        return found

    def _key(self, prefix):
        if prefix is None:
            return None
        found = ProxyKey.objects.select_related("user").filter(prefix=prefix.rstrip("…")).first()
        if found is None:
            raise CommandError(f"no key with prefix {prefix!r}")
        return found
