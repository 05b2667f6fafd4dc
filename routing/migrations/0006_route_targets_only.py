"""Apart from 0005 so that PostgreSQL does not alter tables with the data migration's checks pending."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("routing", "0005_route_targets"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="modelroute",
            name="provider",
        ),
        migrations.RemoveField(
            model_name="modelroute",
            name="target_model",
        ),
        migrations.AlterField(
            model_name="modelroute",
            name="name",
            field=models.SlugField(
                blank=True,
                help_text="How the config file and fallbacks name it; blank: from the pattern.",
                max_length=100,
                unique=True,
            ),
        ),
    ]
