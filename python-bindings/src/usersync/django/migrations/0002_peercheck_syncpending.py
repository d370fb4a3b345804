import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("usersync", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="PeerCheck",
            fields=[
                ("peer", models.CharField(max_length=128, primary_key=True, serialize=False)),
                ("checked_at", models.DateTimeField(blank=True, null=True)),
                ("ok", models.BooleanField(default=False)),
                ("report", models.TextField(blank=True, default="")),
                ("last_ok_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={"verbose_name": "peer"},
        ),
        migrations.CreateModel(
            name="SyncPending",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("peer", models.CharField(max_length=128)),
                ("uid", models.CharField(max_length=22)),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                           to=settings.AUTH_USER_MODEL)),
            ],
            options={"constraints": [models.UniqueConstraint(fields=("peer", "user"), name="usersync_sync_pending_once")]},
        ),
    ]
