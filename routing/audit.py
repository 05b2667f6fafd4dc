"""The audit log is Django's admin log (LogEntry): who changed what and when, and here also from where."""

from __future__ import annotations

from django.contrib.admin.models import LogEntry
from django.db.models import Model


def record(request, obj: Model, flag: int, message: str) -> None:
    """Log `message` ("Revoked in the portal") about `obj`, done by the request's user, and from which address."""
    where = request.META.get("REMOTE_ADDR") or "an unknown address"
    LogEntry.objects.log_actions(
        request.user.pk, [obj], flag, change_message=f"{message} from {where}.", single_object=True
    )
