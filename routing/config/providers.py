"""The `providers` section: create or update each named provider; with --prune, disable the others."""

from __future__ import annotations

from routing import credentials
from routing.config.changes import Changes, record, set_fields
from routing.config.schema import GatewayConfig, ProviderSpec
from routing.env_sync import guess_profile
from routing.models import Provider, origin


def provider_fields(spec: ProviderSpec) -> dict:
    """The file's provider as model fields; the circuit settings are the admin's and stay out."""
    return {
        "kind": spec.kind,
        "base_url": spec.base_url,
        "profile": spec.profile or guess_profile(spec.base_url),
        "extra_headers": spec.extra_headers,
        "api_version": spec.api_version,
        "rpm_limit": spec.rpm_limit,
        "tpm_limit": spec.tpm_limit,
        "max_retries": spec.max_retries,
        "connect_timeout": spec.timeouts.connect,
        "read_timeout": spec.timeouts.read,
        "first_byte_timeout": spec.timeouts.first_byte,
        "max_output_tokens": spec.max_output_tokens,
        "allow_direct": spec.allow_direct,
        "enabled": spec.enabled,
    }


def apply_providers(config: GatewayConfig, changes: Changes, prune: bool) -> None:
    existing = {p.name: p for p in Provider.objects.filter(managed_by_env=False)}
    for spec in config.providers:
        provider = existing.get(spec.name)
        created = provider is None
        provider = provider or Provider(name=spec.name)
        moved = not created and origin(provider.base_url) != origin(spec.base_url)
        changed = set_fields(provider, provider_fields(spec))
        if _stored_key(provider) != spec.api_key:
            changed.append("api_key")
        if created or moved or "api_key" in changed:
            # Encrypted afresh: a key goes to a new host only when entered again (Provider.check_key_destination).
            provider.api_key = spec.api_key
        if created or changed:
            provider.save()
        record(changes, "provider", spec.name, created, changed)
    if prune:
        named = {spec.name for spec in config.providers}
        for name, provider in existing.items():
            if name not in named and provider.enabled:
                provider.enabled = False
                provider.save(update_fields=["enabled", "updated_at"])
                changes.add("provider", name, "disabled (not in the file)")


def _stored_key(provider: Provider) -> str | None:
    """The key as stored, compared by value: the encrypted text differs on every save. None when it
    cannot be decrypted (a rotated secret), so the file's key replaces it."""
    try:
        return provider.api_key
    except credentials.CredentialError:
        return None
