"""The article page and a decision take a constant number of queries, whatever the mentions."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.models import Claim, Label, Mention
from tests.factories import ArticleFactory

HTMX = {"HX-Request": "true"}


def article_with_mentions(count: int):
    word = "Essid "
    article = ArticleFactory(text=word * count)
    label = Label.objects.get(name="ACTOR")
    Mention.objects.bulk_create(
        Mention(article=article, start=i * len(word), end=i * len(word) + 5, text="Essid", label=label)
        for i in range(count))
    return article


def queries(callable_) -> int:
    with CaptureQueriesContext(connection) as context:
        response = callable_()
    assert response.status_code == 200
    return len(context.captured_queries)


@pytest.mark.parametrize("view", ["page", "confirm"])
def test_query_count_does_not_grow_with_the_mentions(analyst_client, view):
    counts = []
    for size in (5, 300):
        article = article_with_mentions(size)
        if view == "page":
            counts.append(queries(lambda: analyst_client.get(article.get_absolute_url())))
        else:
            # The first decision also starts the article and creates the entity: measure the next.
            first, second = article.mentions.order_by("start")[:2]
            analyst_client.post(f"/mentions/{first.pk}/confirm/", {"version": 1}, headers=HTMX)
            counts.append(queries(lambda: analyst_client.post(
                f"/mentions/{second.pk}/confirm/", {"version": 1}, headers=HTMX)))
    assert counts[0] == counts[1]


def article_with_claims(count: int):
    sentence = "Essid said 36 died. "
    article = ArticleFactory(text=sentence * count)
    label = Label.objects.get(name="ACTOR")
    Mention.objects.bulk_create(
        Mention(article=article, start=i * len(sentence), end=i * len(sentence) + 5, text="Essid",
                label=label) for i in range(count))
    Claim.objects.bulk_create(
        Claim(article=article, start=i * len(sentence) + 11, end=i * len(sentence) + 18,
              text="36 died", speaker="Essid", speaker_start=i * len(sentence),
              speaker_end=i * len(sentence) + 5, cue="said") for i in range(count))
    return article


@pytest.mark.parametrize("view", ["page", "confirm-claim", "claim-page"])
def test_query_count_does_not_grow_with_the_claims(analyst_client, view):
    counts = []
    for size in (3, 60):
        article = article_with_claims(size)
        claims = list(article.claims.order_by("start"))
        if view == "page":
            counts.append(queries(lambda: analyst_client.get(article.get_absolute_url())))
        elif view == "claim-page":
            counts.append(queries(lambda: analyst_client.get(claims[0].get_absolute_url())))
        else:
            # The first decision also starts the article: measure the next.
            analyst_client.post(f"/claims/{claims[0].pk}/confirm/", {"version": 1}, headers=HTMX)
            counts.append(queries(lambda: analyst_client.post(
                f"/claims/{claims[1].pk}/confirm/", {"version": 1}, headers=HTMX)))
    assert counts[0] == counts[1], counts
