"""What an apply changed (or, in a dry run, would change), one line per row, no values (they may be secrets)."""

from __future__ import annotations


class Changes:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __bool__(self) -> bool:
        return bool(self.lines)

    def add(self, what: str, name: str, change: str) -> None:
        self.lines.append(f"{what} {name}: {change}")


def set_fields(row, wanted: dict) -> list[str]:
    """Set each field of `row` that differs from `wanted`; the names of those that did, in order."""
    changed = []
    for field, value in wanted.items():
        if getattr(row, field) != value:
            setattr(row, field, value)
            changed.append(field)
    return changed


def record(changes: Changes, what: str, name: str, created: bool, changed: list[str]) -> None:
    if created:
        changes.add(what, name, "created")
    elif changed:
        changes.add(what, name, ", ".join(changed) + " changed")
