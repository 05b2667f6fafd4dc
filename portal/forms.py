"""The key form: its bounds come from the user's policy, so the browser enforces them before the server does."""

from __future__ import annotations

from django import forms

from portal.models import PortalPolicy
from portal.policy import limit_refusal

# form field -> (the policy's default, the policy's maximum, label)
LIMIT_FIELDS = {
    "rpm_limit": ("default_rpm", "max_rpm", "Requests per minute"),
    "tpm_limit": ("default_tpm", "max_tpm", "Tokens per minute"),
    "budget_tokens": ("default_budget_tokens", "max_budget_tokens", "Token budget"),
}


class KeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Where you use it, e.g. laptop or CI.")
    expires_in_days = forms.IntegerField(min_value=1, required=False, label="Expires in (days)")

    def __init__(self, *args, policy: PortalPolicy, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.policy = policy
        for name, (default, most, label) in LIMIT_FIELDS.items():
            self.fields[name] = self.limit_field(label, getattr(policy, default), getattr(policy, most))
        days = self.fields["expires_in_days"]
        if policy.key_days is not None:
            days.required, days.initial = True, policy.key_days
            days.widget.attrs["max"] = policy.key_days

    @staticmethod
    def limit_field(label: str, default: int | None, most: int | None) -> forms.IntegerField:
        field = forms.IntegerField(label=label, min_value=1, required=most is not None, initial=default)
        field.help_text = f"At most {most}." if most is not None else "Empty: no limit."
        if most is not None:
            field.widget.attrs["max"] = most
        return field

    def clean(self) -> dict:
        cleaned = super().clean()
        for field, message in limit_refusal(self.policy, cleaned).items():
            if field not in self.errors:
                self.add_error(field, message)
        return cleaned
