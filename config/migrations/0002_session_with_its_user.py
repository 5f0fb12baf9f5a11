# Sessions with the user each logs in (config/models.py). The sessions open in Django's own table
# are copied, each with the user its data names, so that nobody is logged out by the upgrade.
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def copy_open_sessions(apps, schema_editor):
    from django.contrib.auth import SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    connection = schema_editor.connection
    if "django_session" not in connection.introspection.table_names():
        return
    Session = apps.get_model("sourcemark", "Session")
    users = set(apps.get_model(settings.AUTH_USER_MODEL).objects.values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("SELECT session_key, session_data, expire_date FROM django_session "
                       "WHERE expire_date > now()")
        found = cursor.fetchall()
    decode = SessionStore().decode  # {} for data it cannot read
    copies = []
    for key, data, expires in found:
        user = decode(data).get(SESSION_KEY)
        user = int(user) if user is not None and str(user).isdigit() else None
        copies.append(Session(session_key=key, session_data=data, expire_date=expires,
                              user_id=user if user in users else None))
    Session.objects.bulk_create(copies, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("sourcemark", "0001_dramatiq_schema"),
        ("sessions", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Session",
            fields=[
                ("session_key", models.CharField(max_length=40, primary_key=True, serialize=False,
                                                 verbose_name="session key")),
                ("session_data", models.TextField(verbose_name="session data")),
                ("expire_date", models.DateTimeField(db_index=True, verbose_name="expire date")),
                ("user", models.ForeignKey(blank=True, null=True,
                                           on_delete=django.db.models.deletion.CASCADE,
                                           related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={"verbose_name": "session", "verbose_name_plural": "sessions",
                     "abstract": False},
        ),
        migrations.RunPython(copy_open_sessions, migrations.RunPython.noop),
    ]
