from django.contrib.auth.management import create_permissions
from django.db import migrations

# The three roles are groups; views check the permissions, never the group names.
ROLES = {
    "analyst": ["corpus.view_article", "corpus.view_source", "annotation.view_mention",
                "annotation.add_mention", "annotation.change_mention", "annotation.view_label"],
    "reviewer": ["corpus.view_article", "corpus.view_source", "annotation.view_mention",
                 "annotation.view_label", "annotation.view_event"],
    "admin": ["corpus.*", "annotation.*", "auth.view_user", "auth.add_user", "auth.change_user"],
}


def create_roles(apps, schema_editor):
    grant_roles(apps, ROLES)


def grant_roles(apps, roles: dict[str, list[str]]) -> None:
    """Give each role (a group, created if missing) these permissions ("app.codename" or
    "app.*"); later migrations call it for the permissions of new models."""
    # Permissions are normally created after all migrations have run; roles need them now.
    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codes in roles.items():
        group, _ = Group.objects.get_or_create(name=role)
        for code in codes:
            app_label, codename = code.split(".")
            permissions = Permission.objects.filter(content_type__app_label=app_label)
            if codename != "*":
                permissions = permissions.filter(codename=codename)
            group.permissions.add(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0002_default_labels"),
        ("corpus", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
