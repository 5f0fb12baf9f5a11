from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core import serializers
from django.core.management.base import BaseCommand
from django.db import transaction

from corpus.models import Article

FIXTURE = Path(settings.BASE_DIR) / "fixtures" / "seed_articles.json"
# One demo user per role; the password is the user name (README, "Quick start").
DEMO_USERS = [("analyst", False), ("reviewer", False), ("admin", True)]


class Command(BaseCommand):
    help = "Load the five seed articles (only those not stored yet) and one demo user per role."

    def handle(self, *args, **options):
        with transaction.atomic():
            loaded = self.load_articles()
            created = self.create_users()
        self.stdout.write(f"Seed articles: {loaded} loaded, "
                          f"{Article.objects.count()} in the corpus. Demo users created: {created}.")

    def load_articles(self) -> int:
        # Unlike loaddata, never overwrite a stored row: a second run keeps the analysts' work.
        loaded = 0
        with FIXTURE.open(encoding="utf-8") as fixture:
            for item in serializers.deserialize("json", fixture, handle_forward_references=True):
                model = type(item.object)
                if not model.objects.filter(**_natural_filter(item.object)).exists():
                    item.save()
                    loaded += model is Article
        return loaded

    def create_users(self) -> int:
        created = 0
        for name, is_admin in DEMO_USERS:
            user, was_created = User.objects.get_or_create(
                username=name, defaults={"is_staff": is_admin, "is_superuser": is_admin})
            if was_created:
                user.set_password(name)
                user.save()
                user.groups.add(Group.objects.get(name=name))
                created += 1
        return created


def _natural_filter(obj) -> dict:
    return {"text_hash": obj.text_hash} if isinstance(obj, Article) else {"name": obj.name}
