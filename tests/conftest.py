import importlib
import io

import pytest
from django.test import Client

from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # The manifest storage of production needs collectstatic; tests render pages without it.
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


@pytest.fixture(autouse=True)
def _reference_data(request):
    """Transactional tests (worker, browser) flush the database after each test, which takes the
    labels and roles that migrations created along. Put them back, the way the migrations do.
    (serialized_rollback should do this, but does not once Playwright's page fixture is in play.)"""
    marker = request.node.get_closest_marker("django_db")
    if not (marker and marker.kwargs.get("transaction")):
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps
    from django.db.migrations import RunPython

    for module in ("annotation.migrations.0002_default_labels", "annotation.migrations.0003_roles",
                   "annotation.migrations.0004_idempotencyrecord_analyst_permissions",
                   "annotation.migrations.0007_claim_roles",
                   "annotation.migrations.0010_review_roles"):
        for operation in importlib.import_module(module).Migration.operations:
            if isinstance(operation, RunPython):
                operation.code(apps, None)


@pytest.fixture
def analyst(db):
    return UserFactory(username="alice", roles=["analyst"])


@pytest.fixture
def other_analyst(db):
    return UserFactory(username="bob", roles=["analyst"])


@pytest.fixture
def reviewer(db):
    return UserFactory(username="rita", roles=["reviewer"])


@pytest.fixture
def admin_user(db):
    return UserFactory(username="ada", roles=["admin"], is_staff=True, is_superuser=True)


@pytest.fixture
def stranger(db):
    """Logged in, but in no role."""
    return UserFactory(username="sam")


@pytest.fixture
def analyst_client(client, analyst) -> Client:
    client.force_login(analyst)
    return client


@pytest.fixture
def seed_articles(db):
    from django.core.management import call_command

    from corpus.models import Article

    call_command("load_demo", stdout=io.StringIO())
    return list(Article.objects.order_by("pk"))


@pytest.fixture(scope="session")
def nlp():
    """The real pipeline, loaded once for the session."""
    from annotation import extraction

    return extraction.get_nlp()


@pytest.fixture
def broker():
    import dramatiq

    broker = dramatiq.get_broker()
    broker.flush_all()
    return broker


@pytest.fixture
def worker(broker):
    import dramatiq

    worker = dramatiq.Worker(broker, worker_timeout=100)
    worker.start()
    yield worker
    worker.stop()
