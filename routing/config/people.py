"""The `groups` and `users` sections: teams and their members. Never pruned (a user left out of the file
keeps their keys and usage), and a user made here gets no password: people sign in as the admin
decides, and keys come from `issue_key`."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from routing.config.changes import Changes, record, set_fields
from routing.config.schema import GatewayConfig


def apply_groups(config: GatewayConfig, changes: Changes, prune: bool) -> None:
    existing = set(Group.objects.values_list("name", flat=True))
    for spec in config.groups:
        if spec.name not in existing:
            Group.objects.create(name=spec.name)
            changes.add("group", spec.name, "created")


def apply_users(config: GatewayConfig, changes: Changes, prune: bool) -> None:
    User = get_user_model()
    username = User.USERNAME_FIELD
    names = [spec.name for spec in config.users]
    existing = {getattr(u, username): u for u in User.objects.filter(**{f"{username}__in": names})}
    for spec in config.users:
        user = existing.get(spec.name)
        created = user is None
        if created:
            user = User(**{username: spec.name})
            user.set_unusable_password()
        changed = set_fields(user, {"email": spec.email, "is_staff": spec.staff})
        if created or changed:
            user.save()
        if created or {g.name for g in user.groups.all()} != set(spec.groups):
            user.groups.set(Group.objects.filter(name__in=spec.groups))
            changed.append("groups")
        record(changes, "user", spec.name, created, changed)
