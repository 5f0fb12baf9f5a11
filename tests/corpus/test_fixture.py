import io

from django.core.management import call_command

from corpus.models import Article, Source
from corpus.text import body_bounds, text_hash
from tests.gold import gold_documents


def test_fixture_loads_with_loaddata(db):
    call_command("loaddata", "fixtures/seed_articles.json", stdout=io.StringIO())
    assert Article.objects.count() == 5
    assert set(Source.objects.values_list("name", flat=True)) == {"Asharq Al-Awsat", "Daily Mail"}


def test_fixture_holds_the_gold_texts_verbatim_with_consistent_derived_fields(seed_articles):
    assert [a.text for a in seed_articles] == [d["text"] for d in gold_documents()]
    for article in seed_articles:
        assert article.text_hash == text_hash(article.text)
        assert (article.body_start, article.body_end) == body_bounds(article.text)


def test_fixture_names_titles_bylines_and_publishers(seed_articles):
    by_title = {a.title: a for a in seed_articles}
    troops = by_title["Tunisian troops pursue jihadists after bloody raid to take over border town"]
    assert troops.byline == "Lamine Ghanmi"
    assert by_title["ISIS is using chaotic Libya as a platform for its resurgence after being "
                    "chased of Iraq and Syria"].source.name == "Daily Mail"


def test_loading_the_demo_twice_adds_nothing_and_keeps_work(seed_articles):
    article = seed_articles[0]
    article.status = Article.Status.IN_PROGRESS
    article.save()
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    assert "0 loaded" in out.getvalue()
    assert Article.objects.count() == 5
    article.refresh_from_db()
    assert article.status == Article.Status.IN_PROGRESS


def test_demo_users_can_log_in_with_their_role(seed_articles, client):
    for role in ("analyst", "reviewer", "admin"):
        assert client.login(username=role, password=role)
        client.logout()
