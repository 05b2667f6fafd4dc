"""Indexes of the usage log that no query uses go, each of them slowing every insert of the usage writer:
key_id's and user_id's own ((key, created_at) and (user, created_at) serve every lookup by key or user),
and on PostgreSQL request_id's LIKE index (search looks request ids up exactly, through the unique one).
Dropped by name, so SQLite does not copy the whole table to alter two fields."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

COLUMNS = ("key_id", "user_id")


def unused_indexes(schema_editor, table: str) -> list[str]:
    with schema_editor.connection.cursor() as cursor:
        found = schema_editor.connection.introspection.get_constraints(cursor, table)
    return [
        name
        for name, info in found.items()
        if info["index"]
        and not (info["unique"] or info["primary_key"])
        and (info["columns"] in ([c] for c in COLUMNS) or (info["columns"] == ["request_id"] and name.endswith("_like")))
    ]


def drop_indexes(apps, schema_editor):
    table = apps.get_model("routing", "UsageLog")._meta.db_table
    for name in unused_indexes(schema_editor, table):
        schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


def create_indexes(apps, schema_editor):
    table = apps.get_model("routing", "UsageLog")._meta.db_table
    quote = schema_editor.quote_name
    for column in COLUMNS:
        name = schema_editor._create_index_name(table, [column])
        schema_editor.execute(f"CREATE INDEX {quote(name)} ON {quote(table)} ({quote(column)})")
    if schema_editor.connection.vendor == "postgresql":
        name = schema_editor._create_index_name(table, ["request_id"], suffix="_like")
        schema_editor.execute(f"CREATE INDEX {quote(name)} ON {quote(table)} (request_id varchar_pattern_ops)")


class Migration(migrations.Migration):
    dependencies = [
        ("routing", "0011_alert_settings"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="usagelog",
                    name="key",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="usage",
                        to="routing.proxykey",
                    ),
                ),
                migrations.AlterField(
                    model_name="usagelog",
                    name="user",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="usage",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
        ),
    ]
