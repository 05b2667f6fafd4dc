"""The gateway's data: providers, model routes, per-user keys and the usage log."""

from __future__ import annotations

import httpx
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.text import slugify

from api.providers.headers import header_problem
from api.translate.profiles import PROFILE_NAMES
from routing import credentials
from routing.conditions import NAMES as CONDITION_NAMES
from routing.conditions import parse_conditions
from routing.rollups import KEY as ROLLUP_KEY
from routing.spend import (  # noqa: F401  (this app's spend models)
    AlertSettings,
    BudgetAlert,
    Price,
    TeamBudget,
    UserBudget,
    usd_budget_field,
)

KEY_FOR_NEW_HOST = "enter the API key again to send it to a new host"


class Provider(models.Model):
    class Kind(models.TextChoices):
        OPENAI = "openai", "OpenAI-compatible (Chat Completions)"
        ANTHROPIC = "anthropic", "Anthropic-compatible (pass-through)"
        OPENAI_RESPONSES = "openai-responses", "OpenAI Responses API (/v1/responses)"

    name = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OPENAI)
    base_url = models.URLField(max_length=500, help_text="e.g. https://api.openai.com/v1 or http://localhost:11434/v1")
    api_key_encrypted = models.TextField(blank=True, editable=False)
    extra_headers = models.JSONField(default=dict, blank=True, help_text="Sent with every upstream call.")
    profile = models.CharField(
        max_length=32,
        choices=[(p, p) for p in PROFILE_NAMES],
        default="generic",
        help_text="Parameter quirks of this provider family.",
    )
    api_version = models.CharField(
        max_length=32, blank=True, help_text="Azure OpenAI: the api-version query parameter."
    )
    connect_timeout = models.FloatField(default=10.0, help_text="Seconds.")
    read_timeout = models.FloatField(
        default=90.0, help_text="Seconds of silence allowed between bytes from the upstream."
    )
    first_byte_timeout = models.FloatField(
        default=600.0, help_text="Seconds a stream may wait for its first token (long reasoning); 0 turns it off."
    )
    max_retries = models.PositiveSmallIntegerField(default=2)
    max_output_tokens = models.PositiveIntegerField(
        null=True, blank=True, help_text="Default cap on max_tokens for this provider's models."
    )
    rpm_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        verbose_name="requests per minute",
        help_text="This account's own limit: the balancer sends other targets the rest.",
    )
    tpm_limit = models.PositiveIntegerField(null=True, blank=True, verbose_name="tokens per minute")
    allow_direct = models.BooleanField(
        default=False, help_text='Clients may ask for this provider\'s models directly as "PROVIDER,MODEL".'
    )
    circuit_failures = models.PositiveSmallIntegerField(
        default=3, help_text="Failures (connect, timeout, 5xx, 529, 429) within the window that cool it down."
    )
    circuit_window = models.PositiveIntegerField(default=60, help_text="Seconds in which failures are counted.")
    circuit_cooldown = models.PositiveIntegerField(
        default=30, help_text="Seconds of the first cool-down; it doubles on each trip in a row (to 10 minutes)."
    )
    enabled = models.BooleanField(default=True)
    managed_by_env = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        # GET /test-connection and the admin's "Test connection" action: real upstream calls.
        permissions = [("test_provider", "Can test provider connections")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not isinstance(self.extra_headers, dict):
            raise ValidationError({"extra_headers": "must be a JSON object of header names to values"})
        for name, value in self.extra_headers.items():
            if problem := header_problem(name, value):
                raise ValidationError({"extra_headers": problem})
        self.check_key_destination()

    def save(self, *args, **kwargs) -> None:
        self.check_key_destination()  # the last guard, for saves that skip clean() (shell, commands)
        super().save(*args, **kwargs)

    def check_key_destination(self) -> None:
        """A stored key goes only to the host it was entered for: whoever moves `base_url` to another
        scheme, host or port must enter the key again (else "change provider" would be "read the key")."""
        if self.pk is None:
            return
        stored = Provider.objects.filter(pk=self.pk).values_list("base_url", "api_key_encrypted").first()
        if stored is None:
            return
        stored_url, stored_key = stored
        # Fernet tokens are randomised: a key entered again, even the same one, is a new token.
        if stored_key and stored_key == self.api_key_encrypted and origin(stored_url) != origin(self.base_url):
            raise ValidationError({"api_key": KEY_FOR_NEW_HOST})

    @property
    def api_key(self) -> str:
        return credentials.decrypt(self.api_key_encrypted)

    @api_key.setter
    def api_key(self, value: str) -> None:
        self.api_key_encrypted = credentials.encrypt(value) if value else ""

    @property
    def masked_key(self) -> str:
        try:
            return credentials.mask(self.api_key)
        except credentials.CredentialError:
            return "(undecryptable)"


def origin(url: str) -> tuple[str, str, int | None] | str:
    """(scheme, host, port) as the HTTP client will connect; the text itself if it does not parse."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return url
    default = {"http": 80, "https": 443}.get(parsed.scheme)
    return parsed.scheme, parsed.host.lower(), parsed.port or default


class ModelRoute(models.Model):
    class Strategy(models.TextChoices):
        WEIGHTED = "weighted", "weighted (random by weight, a caller kept on one target)"
        ORDERED = "ordered", "ordered (the first healthy target)"
        LEAST_BUSY = "least_busy", "least busy (fewest requests in flight)"
        LOWEST_LATENCY = "lowest_latency", "lowest latency (time to first byte)"

    name = models.SlugField(
        max_length=100,
        unique=True,
        blank=True,
        help_text="How the config file and fallbacks name it; blank: from the pattern.",
    )
    priority = models.IntegerField(default=100, help_text="Lower numbers are tried first.")
    pattern = models.CharField(
        max_length=200, help_text="Glob matched case-insensitively against the requested model, e.g. *haiku*."
    )
    strategy = models.CharField(max_length=16, choices=Strategy.choices, default=Strategy.WEIGHTED)
    max_tokens_cap = models.PositiveIntegerField(null=True, blank=True)
    long_context = models.BooleanField(
        default=False, help_text="Preferred fallback when another route fails on context length."
    )
    users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="model_routes", help_text="Empty: everyone."
    )
    groups = models.ManyToManyField(Group, blank=True, related_name="model_routes")
    fallbacks = models.ManyToManyField("self", through="RouteFallback", symmetrical=False, related_name="+", blank=True)
    conditions = models.JSONField(
        default=dict,
        blank=True,
        help_text="Every condition given must hold for the route to match: "
        + ", ".join(CONDITION_NAMES)
        + '. E.g. {"min_input_tokens": 60000} or {"header": {"anthropic-beta": "*context-1m*"}}.',
    )
    enabled = models.BooleanField(default=True)
    note = models.CharField(max_length=300, blank=True)
    managed_by_env = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return self.name or self.pattern

    def clean(self) -> None:
        if self.conditions is None:  # the admin's emptied field
            self.conditions = {}
        try:
            parse_conditions(self.conditions)
        except ValueError as exc:
            raise ValidationError({"conditions": str(exc)}) from None

    def save(self, *args, **kwargs) -> None:
        if not self.name:
            self.name = unique_route_name(self.pattern, ModelRoute.objects.exclude(pk=self.pk))
        super().save(*args, **kwargs)


def unique_route_name(pattern: str, others) -> str:
    """A slug from the pattern (`*sonnet*` -> `sonnet`), numbered when another route has it."""
    base = slugify(pattern.replace("*", " ").replace("?", " "))[:90] or "route"
    name, n = base, 1
    while others.filter(name=name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


class RouteTarget(models.Model):
    """One deployment of a route: a provider and the model it calls there."""

    route = models.ForeignKey(ModelRoute, on_delete=models.CASCADE, related_name="targets")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="targets")
    model = models.CharField(max_length=200, help_text="The model name the provider knows.")
    weight = models.PositiveIntegerField(default=1, help_text="Share of requests under the weighted strategy.")
    position = models.PositiveSmallIntegerField(default=0, help_text="Order under the ordered strategy.")
    context_window = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Tokens of input plus output the model takes; blank: the price catalogue's, when it knows the model.",
    )

    class Meta:
        ordering = ["position", "id"]
        verbose_name = "target"

    def __str__(self) -> str:
        return f"{self.provider.name}/{self.model}"


class RouteFallback(models.Model):
    route = models.ForeignKey(ModelRoute, on_delete=models.CASCADE, related_name="fallback_links")
    fallback = models.ForeignKey(ModelRoute, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["route", "fallback"], name="unique_route_fallback")]

    def __str__(self) -> str:
        return f"{self.route_id} -> {self.fallback_id}"


class ProxyKey(models.Model):
    class Period(models.TextChoices):
        DAY = "day"
        WEEK = "week"
        MONTH = "month"
        TOTAL = "total"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="proxy_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=32, db_index=True, editable=False)
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    allowed_models = models.CharField(
        max_length=500, blank=True, help_text="Comma-separated globs; empty allows every model."
    )
    rpm_limit = models.PositiveIntegerField(null=True, blank=True, verbose_name="requests per minute")
    tpm_limit = models.PositiveIntegerField(null=True, blank=True, verbose_name="tokens per minute")
    budget_tokens = models.PositiveBigIntegerField(null=True, blank=True)
    budget_usd = usd_budget_field(help_text="Spend allowed per budget period, at the prices in force.")
    budget_period = models.CharField(max_length=8, choices=Period.choices, default=Period.MONTH)
    may_test_connection = models.BooleanField(
        default=False, help_text="May call GET /test-connection (real upstream calls, a few a minute)."
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "proxy key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def model_patterns(self) -> list[str]:
        return [p.strip() for p in self.allowed_models.split(",") if p.strip()]


class UsageLog(models.Model):
    created_at = models.DateTimeField(default=timezone.now)
    # Unique: replaying the usage journal after a crash may offer a row again (the insert skips it).
    request_id = models.CharField(max_length=40, unique=True)
    # No index of their own: (key, created_at) and (user, created_at) below serve every lookup by key or
    # user (their first column), and each extra index slows every insert of the usage writer.
    key = models.ForeignKey(
        ProxyKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="usage", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="usage",
        db_index=False,
    )
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    endpoint = models.CharField(max_length=40, default="messages")
    requested_model = models.CharField(max_length=200, blank=True)
    route = models.ForeignKey(ModelRoute, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    target = models.ForeignKey(RouteTarget, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    provider = models.ForeignKey(Provider, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    provider_name = models.CharField(max_length=64, blank=True)
    upstream_model = models.CharField(max_length=200, blank=True)
    stream = models.BooleanField(default=False)
    status = models.PositiveSmallIntegerField(default=200)
    error_type = models.CharField(max_length=40, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_read_tokens = models.PositiveIntegerField(default=0)
    cache_creation_tokens = models.PositiveIntegerField(default=0)
    estimated = models.BooleanField(default=False, help_text="Tokens counted by us, not reported upstream.")
    latency_ms = models.PositiveIntegerField(default=0)
    ttft_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name="time to first token (ms)")
    attempts = models.PositiveSmallIntegerField(default=0)
    cost_usd = models.DecimalField(
        max_digits=14,
        decimal_places=6,
        null=True,
        blank=True,
        verbose_name="cost (USD)",
        help_text="Empty: the model has no price.",
    )
    cost_estimated = models.BooleanField(default=False, help_text="Priced from tokens counted by us.")
    request_body = models.TextField(blank=True)
    response_body = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The admin's list (its period filter and order), exports, retention and rollup rebuilds.
            models.Index(fields=["-created_at"], name="usage_time"),
            # Per-user and per-key filters and searches; a user's or key's rows set to NULL on deletion.
            models.Index(fields=["user", "created_at"], name="usage_user_time"),
            models.Index(fields=["key", "created_at"], name="usage_key_time"),
            # Filter by model and by status.
            models.Index(fields=["requested_model", "created_at"], name="usage_model_time"),
            models.Index(fields=["status", "created_at"], name="usage_status_time"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.requested_model} {self.status}"

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_creation_tokens


class UsageRollup(models.Model):
    """Per local day (TIME_ZONE) and (user, key, route, target, provider, models, status class): the sums
    of the usage rows, added to by the usage writer in the transaction that inserts them. Budgets, the
    summaries and "usage to date" read these, so pruning the raw log changes none of them.

    Ids are plain integers (0: none), not foreign keys: a rollup outlives the key, user or route it
    counts, and NULLs would never meet in the unique key the writer's upsert adds to."""

    day = models.DateField()
    user_id = models.PositiveBigIntegerField(default=0)
    key_id = models.PositiveBigIntegerField(default=0)
    route_id = models.PositiveBigIntegerField(default=0)
    target_id = models.PositiveBigIntegerField(default=0, help_text="0: no target (refused before routing).")
    provider_id = models.PositiveBigIntegerField(default=0)
    requested_model = models.CharField(max_length=200, blank=True)
    upstream_model = models.CharField(max_length=200, blank=True)
    status_class = models.PositiveSmallIntegerField(help_text="The HTTP status's first digit: 2, 4 or 5.")
    requests = models.PositiveBigIntegerField(default=0)
    errors = models.PositiveBigIntegerField(default=0)
    unpriced = models.PositiveBigIntegerField(default=0, help_text="Messages served with no price for their model.")
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    cache_read_tokens = models.PositiveBigIntegerField(default=0)
    cache_creation_tokens = models.PositiveBigIntegerField(default=0)
    cost_usd = models.DecimalField(
        max_digits=18, decimal_places=8, null=True, blank=True, help_text="Null until usage rows carry a cost."
    )

    class Meta:
        constraints = [
            # The writer's upsert adds to the row of this key (ON CONFLICT ... DO UPDATE).
            models.UniqueConstraint(
                fields=list(ROLLUP_KEY),
                name="usage_rollup_key",
            )
        ]
        indexes = [
            # A key's budget over a period and its usage to date; a user's page.
            models.Index(fields=["key_id", "day"], name="rollup_key_day"),
            models.Index(fields=["user_id", "day"], name="rollup_user_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} user {self.user_id} key {self.key_id} {self.upstream_model} {self.status_class}xx"
