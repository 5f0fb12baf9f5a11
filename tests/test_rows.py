"""config/rows.py: the plain SQL of the decisions' hot path reads and writes what the ORM would."""

import datetime
import select

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction
from django.forms.models import model_to_dict

from annotation.models import Entity, Event, IdempotencyRecord, Label, Mention
from config import rows
from config.rows import Columns, split
from corpus.models import Article
from tests.factories import ArticleFactory, MentionFactory

pytestmark = pytest.mark.django_db


def _fields(instance) -> dict:
    """Every concrete field's value, as the instance holds it."""
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_a_joined_row_makes_the_instances_the_orm_reads(analyst):
    place = Label.objects.get(name="PLACE")  # an ArrayField (spacy_labels) among its fields
    entity = Entity.objects.create(name="Ben Guerdane", label=place, aliases=["Benguerdane"],
                                   keys=["ben guerdane", "benguerdane"], created_by=analyst)
    mention = MentionFactory(start=46, end=58, label=place, entity=entity, status="confirmed",
                             decided_by=analyst, decided_at=datetime.datetime.now(datetime.UTC))
    parts = Columns(Mention, "m"), Columns(Article, "a", without=("text",)), Columns(Entity, "e")
    with connection.cursor() as cursor:
        cursor.execute(f"""SELECT {", ".join(part.sql for part in parts)}
                           FROM annotation_mention m JOIN corpus_article a ON a.id = m.article_id
                           JOIN annotation_entity e ON e.id = m.entity_id WHERE m.id = %s""",
                       [mention.pk])
        made = [part.make(values) for part, values in zip(parts, split(cursor.fetchone(), *parts))]

    read = Mention.objects.select_related("article", "entity").get(pk=mention.pk)
    assert _fields(made[0]) == _fields(read)
    assert _fields(made[2]) == _fields(read.entity)
    assert made[2].keys == ["ben guerdane", "benguerdane"]
    article = made[1]
    assert article.get_deferred_fields() == {"text"}
    assert article.text == read.article.text  # read when first used
    assert _fields(article) == _fields(read.article)
    assert not made[0]._state.adding and made[0]._state.db == "default"


def test_insert_writes_what_bulk_create_writes(analyst):
    article = ArticleFactory()
    fields = dict(action="mention.confirm", subject_type="mention", subject_id=7, article=article,
                  actor=analyst, before={"status": "suggested", "n": [1, 2]}, after={"é": None})
    rows.insert(Event, [Event(**fields), Event(**{**fields, "subject_id": 8})])
    Event.objects.bulk_create([Event(**{**fields, "subject_id": 9})])

    written = list(Event.objects.filter(article=article).order_by("subject_id"))
    assert [e.subject_id for e in written] == [7, 8, 9]
    expected = model_to_dict(written[2], exclude=["id", "subject_id"])
    for event in written[:2]:
        assert model_to_dict(event, exclude=["id", "subject_id"]) == expected
        assert event.created_at is not None


def test_insert_of_nothing_writes_nothing():
    rows.insert(Event, [])
    assert not Event.objects.exists()


def test_an_insert_that_breaks_a_constraint_raises_django_s_error(analyst):
    record = dict(key="k" * 20, user_id=analyst.pk, path="/", status=200, content_type="text/html",
                  body="", headers={})
    rows.insert(IdempotencyRecord, [IdempotencyRecord(**record)])
    with pytest.raises(IntegrityError), transaction.atomic():
        rows.insert(IdempotencyRecord, [IdempotencyRecord(**record)])
    assert IdempotencyRecord.objects.count() == 1


def test_update_writes_the_fields_named_and_no_other():
    mention = MentionFactory(start=0, end=6)
    mention.status, mention.version = "confirmed", 2
    mention.text = "changed in memory only"
    rows.update(mention, ["status", "version"])

    mention.refresh_from_db()
    assert (mention.status, mention.version, mention.text) == ("confirmed", 2, "Report")


def test_a_session_is_read_while_it_lasts_and_not_after(analyst):
    from config.models import Session
    from config.sessions import SessionStore

    store = SessionStore()
    store["who"] = analyst.pk
    store.create()
    assert SessionStore(store.session_key).load() == {"who": analyst.pk}

    Session.objects.filter(pk=store.session_key).update(
        expire_date=datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1))
    expired = SessionStore(store.session_key)
    assert expired.load() == {} and expired.session_key is None  # a new one starts
    assert SessionStore("no-such-session-key").load() == {}


def test_the_backend_gives_an_active_user_and_no_other(analyst):
    from config.auth import PermissionBackend

    backend = PermissionBackend()
    user = backend.get_user(analyst.pk)
    assert _fields(user) == _fields(type(analyst).objects.get(pk=analyst.pk))
    assert user.has_perm("annotation.change_mention")
    assert backend.get_user(analyst.pk + 1000) is None
    type(analyst).objects.filter(pk=analyst.pk).update(is_active=False)
    assert backend.get_user(analyst.pk) is None


def test_insert_with_ids_gives_each_instance_its_own():
    article = ArticleFactory()
    actor = Label.objects.get(name="ACTOR")
    made = [Mention(article=article, start=start, end=start + 6, text=article.text[start:start + 6],
                    label=actor) for start in (0, 20, 40)]
    rows.insert(Mention, made, ids=True)

    assert all(not m._state.adding for m in made)
    assert [(m.pk, m.start) for m in made] == list(
        Mention.objects.filter(article=article).order_by("start").values_list("pk", "start"))


def test_the_user_comes_with_their_permissions_in_one_query(analyst, admin_user, django_assert_num_queries):
    from django.contrib.auth.models import Permission

    from config.auth import PermissionBackend

    backend = PermissionBackend()
    analyst.user_permissions.add(Permission.objects.get(codename="view_entity"))
    with django_assert_num_queries(1):
        user = backend.get_user(analyst.pk)
        assert user.has_perm("annotation.change_mention")  # from the analyst group
        assert user.has_perm("annotation.view_entity")  # their own
        assert not user.has_perm("corpus.review_article")
    assert user.get_all_permissions() == type(analyst).objects.get(pk=analyst.pk).get_all_permissions()
    superuser = backend.get_user(admin_user.pk)
    assert superuser.has_perm("corpus.review_article")


def test_the_hot_statements_are_planned_once_per_connection(analyst, django_assert_num_queries):
    """Run often, a plain statement of config/rows.py is prepared on the connection (psycopg does
    from its fifth run), and still logged and counted as Django's own are."""
    from config.auth import PermissionBackend

    def prepared() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                           ["%FROM auth_user u WHERE u.id%"])
            return cursor.fetchone()[0]

    assert prepared() == 0
    with django_assert_num_queries(6):
        users = [PermissionBackend().get_user(analyst.pk) for _ in range(6)]
    assert prepared() == 1
    assert {user.pk for user in users} == {analyst.pk}
    assert users[-1].last_login == type(analyst).objects.get(pk=analyst.pk).last_login  # aware times


def test_prepared_statements_can_be_turned_off_for_a_pooler(tmp_path):
    """DATABASE_PREPARED=0: none are prepared (a pooler in transaction mode cannot keep them)."""
    import os
    import subprocess
    import sys

    script = ("import django; django.setup(); from django.conf import settings; "
              "print(settings.DATABASES['default']['OPTIONS']['prepare_threshold'])")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
           "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"}
    asked = [subprocess.run([sys.executable, "-c", script], env={**env, **extra}, capture_output=True,
                            text=True, check=True).stdout.strip()
             for extra in ({}, {"DATABASE_PREPARED": "0"})]
    assert asked == ["5", "None"]


def test_the_query_log_shows_a_prepared_statement_with_its_values(analyst):
    from django.test.utils import CaptureQueriesContext

    from config.auth import PermissionBackend

    with CaptureQueriesContext(connection) as captured:
        for _ in range(6):  # prepared from the fifth run
            PermissionBackend().get_user(analyst.pk)
    assert all(f"WHERE u.id = {analyst.pk}" in query["sql"] for query in captured.captured_queries)


@pytest.fixture
def own_connection():
    """A connection of its own, outside the test's transaction, that a test may lose."""
    from django.db import connections

    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def _last_query_of(wrapper) -> str:
    with psycopg.connect(**wrapper.get_connection_params(), autocommit=True) as other:
        return other.execute("SELECT query FROM pg_stat_activity WHERE pid = %s",
                             [wrapper.connection.info.backend_pid]).fetchone()[0]


def test_the_health_check_of_an_idle_connection_sends_nothing(own_connection):
    with own_connection.cursor() as cursor:
        cursor.execute("SELECT 'the last statement sent'")
    assert own_connection.is_usable()
    assert _last_query_of(own_connection) == "SELECT 'the last statement sent'"


def test_the_health_check_finds_a_connection_the_server_ended(own_connection):
    """The backend terminated (as a restart does): the check fails, and the next request's
    cursor works on a new connection."""
    own_connection.health_check_enabled = True
    pid = own_connection.connection.info.backend_pid
    with psycopg.connect(**own_connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    poller = select.poll()
    poller.register(own_connection.connection.fileno(), select.POLLIN)
    assert poller.poll(5000), "the server said nothing within 5 s"
    assert not own_connection.is_usable()
    own_connection.health_check_done = False
    with own_connection.cursor() as cursor:  # the request's first cursor runs the check
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


def test_the_health_check_asks_the_server_when_it_sent_something(own_connection):
    """Something unasked on the socket (here a notification) is not a verdict: SELECT 1 is."""
    with own_connection.cursor() as cursor:
        cursor.execute("LISTEN sourcemark_health")
    with psycopg.connect(**own_connection.get_connection_params(), autocommit=True) as other:
        other.execute("NOTIFY sourcemark_health")
    poller = select.poll()
    poller.register(own_connection.connection.fileno(), select.POLLIN)
    assert poller.poll(5000)
    assert own_connection.is_usable()
    assert _last_query_of(own_connection) == "SELECT 1"


def test_write_sends_its_statements_as_one(django_assert_num_queries):
    """rows.write: an UPDATE and an INSERT (None skipped) in one statement; each applied."""
    mention = MentionFactory()
    mention.status = Mention.Status.CONFIRMED
    event = Event(action="mention.confirm", subject_type="mention", subject_id=mention.pk,
                  article=mention.article, after={"status": "confirmed"})
    with django_assert_num_queries(1):
        rows.write(rows.update_sql(mention, ["status"]), None, rows.insert_sql(Event, [event]))
    assert Mention.objects.get(pk=mention.pk).status == Mention.Status.CONFIRMED
    assert Event.objects.filter(subject_id=mention.pk, action="mention.confirm").count() == 1


def test_a_write_that_breaks_a_constraint_writes_none_of_its_statements(analyst):
    mention = MentionFactory(status=Mention.Status.SUGGESTED)
    mention.status = Mention.Status.CONFIRMED
    refused = IdempotencyRecord(key="k" * 10, user=analyst, path="/", status=-1,  # status >= 0
                                content_type="text/plain", body="", headers={})
    with pytest.raises(IntegrityError), transaction.atomic():
        rows.write(rows.update_sql(mention, ["status"]),
                   rows.insert_sql(IdempotencyRecord, [refused]))
    assert Mention.objects.get(pk=mention.pk).status == Mention.Status.SUGGESTED


def test_write_of_nothing_sends_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        rows.write(None, None)


def _article_list(client):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = client.get("/articles/")
    return response, [query["sql"] for query in captured.captured_queries]


def test_a_request_reads_its_session_and_user_in_one_query(client, analyst):
    from config.models import Session

    client.force_login(analyst)
    assert Session.objects.get().user_id == analyst.pk
    response, queries = _article_list(client)
    assert response.status_code == 200 and response.context["user"] == analyst
    assert sum("sourcemark_session" in sql for sql in queries) == 1
    assert not any("auth_user u WHERE" in sql or "auth_permission" in sql
                   for sql in queries if "sourcemark_session" not in sql)
    assert response.wsgi_request.user.has_perm("corpus.view_article")  # read with them


def test_the_session_s_checks_still_hold_for_the_user_read_with_it(client, analyst):
    """A deactivated user, or one whose password changed, is logged out; a deleted user's
    sessions go with them."""
    from config.models import Session

    client.force_login(analyst)
    type(analyst).objects.filter(pk=analyst.pk).update(is_active=False)
    assert _article_list(client)[0].status_code == 302
    type(analyst).objects.filter(pk=analyst.pk).update(is_active=True)
    assert _article_list(client)[0].status_code == 200
    analyst.set_password("another one")
    analyst.save()
    assert _article_list(client)[0].status_code == 302  # the session's hash no longer matches
    client.force_login(analyst)
    assert Session.objects.filter(user=analyst).exists()
    analyst.delete()
    assert not Session.objects.exists()


def test_logging_out_ends_the_session(client, analyst):
    from config.models import Session

    client.force_login(analyst)
    client.post("/logout/")
    assert not Session.objects.exists()
    assert _article_list(client)[0].status_code == 302
