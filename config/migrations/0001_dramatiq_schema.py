# The tables of the default Dramatiq broker (dramatiq-postgres). Created whatever broker is
# configured, so switching DRAMATIQ_BROKER_URL back to the database needs no extra step.
from django.db import migrations


def create_schema(apps, schema_editor):
    from dramatiq_postgres import schema

    with schema_editor.connection.cursor() as cursor:
        schema.init(cursor, schema="dramatiq", prefix="")


class Migration(migrations.Migration):
    initial = True
    operations = [migrations.RunPython(create_schema, migrations.RunPython.noop)]
