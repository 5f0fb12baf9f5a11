import importlib

from django.db import migrations

# Issue 4: analysts mark, edit and link claims; analysts and reviewers grade them.
ROLES = {
    "analyst": ["annotation.view_claim", "annotation.add_claim", "annotation.change_claim",
                "annotation.delete_claim", "annotation.view_claimlink", "annotation.add_claimlink",
                "annotation.delete_claimlink", "annotation.grade_claim", "annotation.view_entity"],
    "reviewer": ["annotation.view_claim", "annotation.view_claimlink", "annotation.grade_claim",
                 "annotation.view_entity"],
    "admin": ["annotation.*", "corpus.*"],
}


def grant(apps, schema_editor):
    roles = importlib.import_module("annotation.migrations.0003_roles")
    roles.grant_roles(apps, ROLES)


class Migration(migrations.Migration):
    dependencies = [("annotation", "0006_claims")]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
