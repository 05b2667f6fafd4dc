from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from routing import keys
from routing.models import ProxyKey


class Command(BaseCommand):
    help = "Issue a proxy key for USERNAME (created if needed). The key is printed alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="")
        parser.add_argument("--models", default="", help="Comma-separated globs the key may use.")
        parser.add_argument("--rpm", type=int, default=None)
        parser.add_argument("--tpm", type=int, default=None)
        parser.add_argument("--budget", type=int, default=None, help="Token budget per period.")
        parser.add_argument("--budget-usd", type=_usd, default=None, help="Spend budget per period, in USD.")
        parser.add_argument(
            "--budget-period",
            "--period",
            dest="period",
            default="month",
            choices=[c for c, _ in ProxyKey.Period.choices],
        )

    def handle(self, *args, username, name, models, rpm, tpm, budget, budget_usd, period, **options):
        user, created = get_user_model().objects.get_or_create(username=username)
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        new = keys.make_key()
        ProxyKey.objects.create(
            user=user,
            name=name,
            prefix=new.prefix,
            secret_hash=new.digest,
            allowed_models=models,
            rpm_limit=rpm,
            tpm_limit=tpm,
            budget_tokens=budget,
            budget_usd=budget_usd,
            budget_period=period,
        )
        self.stderr.write(f"Issued key {new.prefix}… for {username}. It is shown once; store it now.")
        self.stdout.write(new.secret)


def _usd(text: str) -> Decimal:
    """A budget in USD: a non-negative amount with at most two decimals (cents)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(text) from None
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        raise ValueError(text)
    return value
