"""`${NAME}` placeholders in secret fields, filled from the environment at apply time.

Only the fields that hold secrets are filled (a provider's api_key and extra header values, the alerts
webhook): anywhere else `${...}` is plain text. A placeholder whose variable is not set is an error
naming its path, never an empty key. The gateway's own secrets cannot be named: whoever may edit the
file (a pull request applied by CI) must not be able to send PROXY_ENCRYPTION_KEY to a base_url of theirs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from api.providers.headers import header_problem
from routing.config.errors import ConfigError
from routing.config.schema import GatewayConfig

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# The gateway's own credentials (settings.py): what it guards, not what it sends upstream.
GATEWAY_SECRETS = frozenset(
    {
        "SECRET_KEY",
        "PROXY_ENCRYPTION_KEY",
        "DATABASE_URL",
        "CACHE_URL",
        "REDIS_URL",
        "METRICS_TOKEN",
        "ANTHROPIC_API_KEY",
    }
)


def fill(text: str, environ: Mapping[str, str], path: str, problems: list[str]) -> str:
    """`text` with each `${NAME}` replaced by environ[NAME]; a missing NAME is added to `problems`."""

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name.upper() in GATEWAY_SECRETS:
            problems.append(f"{path}: {name} is the gateway's own secret, not one to send upstream")
            return ""
        if name not in environ:
            problems.append(f"{path}: environment variable {name} is not set")
            return ""
        return environ[name]

    return PLACEHOLDER.sub(value, text)


def resolve_secrets(config: GatewayConfig, environ: Mapping[str, str]) -> GatewayConfig:
    """The config with every secret placeholder filled; ConfigError listing each one that cannot be."""
    problems: list[str] = []
    providers = []
    for i, spec in enumerate(config.providers):
        headers = {}
        for name, raw in spec.extra_headers.items():
            path = f"providers[{i}].extra_headers.{name}"
            headers[name] = fill(raw, environ, path, problems)
            if problem := header_problem(name, headers[name]):
                problems.append(f"{path}: {problem}")
        api_key = fill(spec.api_key, environ, f"providers[{i}].api_key", problems)
        providers.append(spec.model_copy(update={"api_key": api_key, "extra_headers": headers}))
    alerts = config.alerts
    if alerts is not None:
        url = fill(alerts.webhook_url, environ, "alerts.webhook_url", problems)
        if url and not _is_http_url(url):  # the value itself stays out of the message: it is a secret
            problems.append("alerts.webhook_url: must be an http:// or https:// URL")
        alerts = alerts.model_copy(update={"webhook_url": url})
    if problems:
        raise ConfigError(problems)
    return config.model_copy(update={"providers": providers, "alerts": alerts})


def _is_http_url(url: str) -> bool:
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        return False
    return True
