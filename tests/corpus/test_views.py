from django.urls import reverse

from corpus.models import Article


def test_article_list_pages_by_fifty(analyst_client):
    articles = [Article(title=f"Report {n}", text=f"Report number {n}.") for n in range(51)]
    for article in articles:
        article.derive_from_text()
    Article.objects.bulk_create(articles)
    first = analyst_client.get(reverse("corpus:article_list")).content.decode()
    assert "Page 1 of 2" in first and 'href="?page=2"' in first
    second = analyst_client.get(reverse("corpus:article_list"), {"page": 2}).content.decode()
    assert "Report 50" in second and "Report 49" not in second
