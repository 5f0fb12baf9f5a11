"""Searching the corpus: full text (PostgreSQL, stemmed), and filters by label, status and entity."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotation.models import Entity, Label
from corpus.models import Article
from tests.factories import ArticleFactory, MentionFactory

SEARCH = reverse("corpus:search")


def label(name: str) -> Label:
    return Label.objects.get(name=name)


def found(client, **params) -> str:
    response = client.get(SEARCH, params)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def corpus(db):
    """Three articles: an attack in Ben Guerdane, a meeting in Tunis, smuggling near Sirte."""
    attack = ArticleFactory(title="Border town attacked", status=Article.Status.IN_PROGRESS,
                            text="Gunmen attacked army barracks in Ben Guerdane at dawn.")
    meeting = ArticleFactory(title="Ministers meet", status=Article.Status.APPROVED,
                             text="Habib Essid met ministers in Tunis to discuss the budget.")
    smuggling = ArticleFactory(title="Smugglers on the coast", status=Article.Status.PRETAGGED,
                               text="Smugglers moved fuel near Sirte, officials said.")
    place = Entity.objects.create(name="Ben Guerdane", label=label("PLACE"))
    MentionFactory(article=attack, start=33, end=45, label=label("PLACE"), status="confirmed",
                   entity=place)
    MentionFactory(article=meeting, start=0, end=11, label=label("ACTOR"), status="confirmed")
    # A rejected mention does not count for the label filter.
    MentionFactory(article=smuggling, start=26, end=31, label=label("PLACE"), status="rejected",
                   entity=place)
    return {"attack": attack, "meeting": meeting, "smuggling": smuggling, "place": place}


def titles(html: str, corpus: dict) -> set[str]:
    return {name for name, article in corpus.items() if isinstance(article, Article)
            and f'<a href="{article.get_absolute_url()}">{article.title}</a>' in html}


def test_full_text_search_finds_a_stemmed_word_in_the_text(analyst_client, corpus):
    assert titles(found(analyst_client, q="attacks"), corpus) == {"attack"}


def test_full_text_search_understands_web_search_syntax(analyst_client, corpus):
    html = found(analyst_client, q='smugglers or "habib essid" -budget')
    assert titles(html, corpus) == {"smuggling"}


def test_full_text_search_matches_the_title(analyst_client, corpus):
    assert titles(found(analyst_client, q="coast"), corpus) == {"smuggling"}


def test_label_filter_keeps_articles_with_a_standing_mention_of_that_label(analyst_client, corpus):
    assert titles(found(analyst_client, label="PLACE"), corpus) == {"attack"}


def test_status_filter_keeps_articles_in_that_status(analyst_client, corpus):
    assert titles(found(analyst_client, status="approved"), corpus) == {"meeting"}


def test_entity_filter_keeps_articles_that_mention_the_entity(analyst_client, corpus):
    html = found(analyst_client, entity=corpus["place"].pk)
    assert titles(html, corpus) == {"attack"}
    assert f'Articles mentioning\n  <a href="{corpus["place"].get_absolute_url()}">Ben Guerdane</a>' in html


def test_filters_combine_with_the_query(analyst_client, corpus):
    assert titles(found(analyst_client, q="ministers", label="ACTOR", status="approved"), corpus) == {"meeting"}
    assert titles(found(analyst_client, q="ministers", label="PLACE"), corpus) == set()
    assert titles(found(analyst_client, q="attacked", status="approved"), corpus) == set()


def test_snippet_highlights_the_match_and_escapes_the_text(analyst_client, db):
    # PostgreSQL drops whole tags from a headline; what is left of broken markup must be escaped.
    ArticleFactory(title="Unsafe", text="Officials said <script>alert(1)</script> & <3 attackers "
                                        "<img src=x onerror=alert(1)")
    html = found(analyst_client, q="attack")
    assert "&amp; &lt;3 <mark>attackers</mark> &lt;img src=x onerror=alert" in html
    assert "<script>alert" not in html and "<img src=x" not in html


def test_empty_search_shows_only_the_form(analyst_client, corpus):
    html = found(analyst_client)
    assert '<form class="filters" method="get" action="/search/" role="search">' in html
    assert 'class="results"' not in html and titles(html, corpus) == set()


def test_unknown_filter_values_are_ignored(analyst_client, corpus):
    html = found(analyst_client, q="attacked", status="nonsense", label="NOPE", entity="x", page="-3")
    assert titles(html, corpus) == {"attack"}


def test_results_come_fifty_a_page_without_counting_them_all(analyst_client, db):
    for n in range(51):
        ArticleFactory(title=f"Attack {n}", text=f"Attack number {n} on the border.")
    first = found(analyst_client, q="attack")
    assert first.count('<li>\n    <h2>') == 50 and "Next →" in first and "Previous" not in first
    second = found(analyst_client, q="attack", page=2)
    assert second.count('<li>\n    <h2>') == 1 and "Next →" not in second
    assert 'href="?q=attack&amp;page=1"' in second


def test_a_query_matching_many_lists_them_newest_first_page_by_page(analyst_client, db, monkeypatch):
    """Past RANKED_AT_MOST matches nothing is ranked (that would read every match): the newest
    come first, each page starting after the last article shown, and the page says so."""
    from corpus import views

    monkeypatch.setattr(views, "RANKED_AT_MOST", 3)
    monkeypatch.setattr(views, "RESULTS_PER_PAGE", 4)
    for n in range(7):
        ArticleFactory(title=f"Raid {n}", text=f"Raid number {n} near the border.")
    first = found(analyst_client, q="raids")
    assert "More than 3 articles match: the newest come first" in first
    assert first.index("Raid 6<") < first.index("Raid 3<") and "Raid 2<" not in first
    assert "<mark>Raid</mark> number 6" in first
    older = re.search(r'href="(\?[^"]*after=\d+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = analyst_client.get(SEARCH + older).content.decode()
    assert "Raid 2<" in second and "Raid 0<" in second and "Raid 3<" not in second
    assert "Older →" not in second and "← Newer" in second
    few = found(analyst_client, q="raid number 6")
    assert "newest come first" not in few and "Raid 6<" in few


def test_query_count_does_not_grow_with_the_results(analyst_client, db):
    place = Entity.objects.create(name="Sirte", label=label("PLACE"))
    counts = []
    for size in (3, 30):
        for n in range(size):
            article = ArticleFactory(title=f"Sirte {size}-{n}", text=f"Fighting in Sirte, report {size}-{n}.")
            MentionFactory(article=article, start=12, end=17, label=label("PLACE"), status="confirmed",
                           entity=place)
        with CaptureQueriesContext(connection) as context:
            html = found(analyst_client, q="fighting", label="PLACE", entity=place.pk)
        assert html.count("<mark>Fighting</mark>") == Article.objects.count()
        counts.append(len(context.captured_queries))
    assert counts[0] == counts[1]


def test_full_text_query_uses_the_gin_index(db, corpus):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # five rows: make the planner show its hand
    plan = Article.objects.search("attacks").explain()
    assert "article_search" in plan


def test_anonymous_visitor_is_sent_to_login(client, db):
    response = client.get(SEARCH, {"q": "attack"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_nav_links_to_search_and_entities(analyst_client, db):
    html = found(analyst_client)
    assert f'href="{SEARCH}">Search</a>' in html
    assert f'href="{reverse("annotation:entity_list")}">Entities</a>' in html



def test_snippets_mark_every_form_of_the_query_words_and_say_where_the_text_goes_on():
    """The words are found by their Snowball stems, as PostgreSQL's index holds them; a
    fragment that is not the text's start or end says so."""
    from corpus.snippets import snippet

    assert snippet("Copies of the copy were copied.", ["copi"]) == (
        "<mark>Copies</mark> of the <mark>copy</mark> were <mark>copied</mark>.")
    long = "filler " * 60 + "Gunmen attacked the barracks. " + "filler " * 60
    cut = snippet(long, ["attack"])
    assert cut.startswith("… filler") and cut.endswith(" …") and "<mark>attacked</mark>" in cut
    assert snippet("Nothing matches here.", ["zzz"]) == "Nothing matches here."
