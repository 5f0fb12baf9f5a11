import re
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from corpus.models import Article


def test_article_list_pages_by_fifty(analyst_client):
    articles = [Article(title=f"Report {n}", text=f"Report number {n}.") for n in range(51)]
    for article in articles:
        article.derive_from_text()
    Article.objects.bulk_create(articles)
    url = reverse("corpus:article_list")
    first = analyst_client.get(url).content.decode()
    assert "Report 0<" in first and "Report 49<" in first and "Report 50" not in first
    assert "← Previous" not in first
    next_link = re.search(r'href="(\?after=\d+)" rel="next"', first).group(1)
    second = analyst_client.get(url + next_link).content.decode()
    assert "Report 50" in second and "Report 49<" not in second and "Next →" not in second
    previous = re.search(r'href="(\?before=\d+)" rel="prev"', second).group(1)
    assert analyst_client.get(url + previous).content.decode().count("Report ") == 50
    last = analyst_client.get(url, {"last": "1"}).content.decode()
    assert "Report 50" in last and "Report 0<" not in last and "Next →" not in last


def test_article_list_pages_in_creation_order_and_survives_a_stale_cursor(analyst_client):
    """Articles keep the order they were stored in (creation time, then id), also when ids
    and times disagree, and a cursor naming an article that is gone gives the first page."""
    older = Article(title="Stored first", text="An older report.")
    older.derive_from_text()
    newer = Article(title="Stored second", text="A newer report.")
    newer.derive_from_text()
    Article.objects.bulk_create([newer, older])  # the newer one gets the lower id
    Article.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(days=1))
    url = reverse("corpus:article_list")
    page = analyst_client.get(url).content.decode()
    assert page.index("Stored first") < page.index("Stored second")
    assert "Stored first" in analyst_client.get(url, {"after": 10**9}).content.decode()
    assert analyst_client.get(url, {"after": "x"}).status_code == 200
