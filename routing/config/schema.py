"""The config file's format (docs/config.md) as pydantic models: every key known, every value typed.

Only what one file can say about itself is checked here; what needs the database (does this provider
exist, is that row managed by the environment) is checked in references.py. Strict mode: `"5"` is not
a number and `1` is not `true`, so a typo is an error rather than a guess.
"""

from __future__ import annotations

from typing import Annotated, Literal

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from api.providers.headers import header_problem
from api.translate.profiles import PROFILE_NAMES

Slug = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[-a-zA-Z0-9_]+$")]
RouteName = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[-a-zA-Z0-9_]+$")]
GroupName = Annotated[str, Field(min_length=1, max_length=150)]
Count = Annotated[int, Field(ge=0)]
Usd = Annotated[float, Field(ge=0)]
Seconds = Annotated[float, Field(ge=0)]


def _django_check(validator):
    """A Django validator as a pydantic one: its message becomes the error at the field's path."""

    def check(value: str) -> str:
        try:
            validator(value)
        except ValidationError as exc:
            raise ValueError(" ".join(exc.messages)) from None
        return value

    return check


Username = Annotated[
    str, Field(min_length=1, max_length=150), AfterValidator(_django_check(UnicodeUsernameValidator()))
]
Url = Annotated[str, Field(min_length=1, max_length=500)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Timeouts(Strict):
    connect: Seconds = 10.0
    read: Seconds = 90.0
    first_byte: Seconds = 600.0


class ProviderSpec(Strict):
    name: Slug
    kind: str = "openai"
    base_url: Url
    api_key: str = ""
    profile: str | None = None
    extra_headers: dict[str, str] = {}
    api_version: Annotated[str, Field(max_length=32)] = ""
    rpm_limit: Count | None = None
    tpm_limit: Count | None = None
    max_retries: Annotated[int, Field(ge=0, le=32767)] = 2
    timeouts: Timeouts = Timeouts()
    max_output_tokens: Count | None = None
    allow_direct: bool = False
    enabled: bool = True

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        from routing.models import Provider  # the choices grow with the model (openai-responses, ...)

        return _one_of(kind, Provider.Kind.values)

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, profile: str | None) -> str | None:
        return profile if profile is None else _one_of(profile, PROFILE_NAMES)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise ValueError("must be an http:// or https:// URL") from None
        return url

    @field_validator("extra_headers")
    @classmethod
    def _sendable_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if problem := header_problem(name, value):
                raise ValueError(problem)
        return headers


class PriceSpec(Strict):
    provider: Slug
    model: Annotated[str, Field(min_length=1, max_length=200)]
    input: Usd | None = None
    output: Usd | None = None
    cache_read: Usd | None = None
    cache_write: Usd | None = None


class WhenSpec(Strict):
    min_input_tokens: Count | None = None
    thinking: bool | None = None
    has_images: bool | None = None
    tool: Annotated[str, Field(min_length=1)] | None = None
    header: dict[str, str] = {}


class TargetSpec(Strict):
    provider: Slug
    model: Annotated[str, Field(min_length=1, max_length=200)]
    weight: Count = 1


class RouteSpec(Strict):
    name: RouteName
    pattern: Annotated[str, Field(min_length=1, max_length=200)]
    priority: int = 100
    when: WhenSpec | None = None
    targets: Annotated[list[TargetSpec], Field(min_length=1)]
    strategy: str = "weighted"
    max_tokens_cap: Count | None = None
    long_context: bool = False
    fallbacks: list[RouteName] = []
    users: list[Username] = []
    groups: list[GroupName] = []
    enabled: bool = True

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, strategy: str) -> str:
        from routing.models import ModelRoute

        return _one_of(strategy, ModelRoute.Strategy.values)


class BudgetSpec(Strict):
    usd: Usd | None = None
    tokens: Count | None = None
    period: Literal["day", "week", "month", "total"] = "month"

    @model_validator(mode="after")
    def _has_a_limit(self) -> BudgetSpec:
        if self.usd is None and self.tokens is None:
            raise ValueError("a budget needs usd, tokens or both")
        return self


class GroupSpec(Strict):
    name: GroupName
    budget: BudgetSpec | None = None
    alert_at: list[Annotated[float, Field(gt=0, le=1)]] = []


class UserSpec(Strict):
    name: Username
    email: Annotated[str, Field(max_length=254)] = ""
    groups: list[GroupName] = []
    budget: BudgetSpec | None = None
    alert_at: list[Annotated[float, Field(gt=0, le=1)]] = []
    staff: bool = False

    @field_validator("email")
    @classmethod
    def _email_or_blank(cls, email: str) -> str:
        return email and _django_check(validate_email)(email)


class AlertsSpec(Strict):
    webhook_url: Url


class GatewayConfig(Strict):
    providers: list[ProviderSpec] = []
    prices: list[PriceSpec] = []
    routes: list[RouteSpec] = []
    groups: list[GroupSpec] = []
    users: list[UserSpec] = []
    alerts: AlertsSpec | None = None


def _one_of(value: str, choices) -> str:
    if value not in choices:
        raise ValueError(f"must be one of {', '.join(choices)}")
    return value
