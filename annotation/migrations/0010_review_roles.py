import importlib

from django.db import migrations

# Issue 5: reviewers approve, return (with comments), reopen and assign; analysts read the comments
# and assignments that concern them and every article's history; admins manage users and roles.
ROLES = {
    "analyst": ["annotation.view_reviewcomment", "annotation.view_assignment", "annotation.view_event"],
    "reviewer": ["corpus.review_article", "corpus.reopen_article", "corpus.assign_article",
                 "annotation.view_reviewcomment", "annotation.add_reviewcomment",
                 "annotation.view_assignment", "annotation.add_assignment",
                 "annotation.delete_assignment"],
    "admin": ["annotation.*", "corpus.*", "auth.view_user", "auth.add_user", "auth.change_user",
              "auth.view_group"],
}


def grant(apps, schema_editor):
    roles = importlib.import_module("annotation.migrations.0003_roles")
    roles.grant_roles(apps, ROLES)


class Migration(migrations.Migration):
    dependencies = [("annotation", "0009_assignments_reviews"), ("corpus", "0004_background_imports")]
    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
