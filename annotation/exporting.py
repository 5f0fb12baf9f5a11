"""Annotations out of the database, in the shape of ../shared/gold/seeds.jsonl."""

from collections.abc import Iterator

from django.db.models import Prefetch

from annotation.models import Mention
from corpus.models import Article


def gold_shaped(articles=None, *, chunk_size: int = 200) -> Iterator[dict]:
    """One dict a line: text, spans (each with status and origin), claims."""
    articles = (articles if articles is not None else Article.objects.all()).with_source()
    mentions = Prefetch("mentions", queryset=Mention.objects.select_related("label").order_by("start"))
    for article in articles.order_by("pk").prefetch_related(mentions).iterator(chunk_size=chunk_size):
        yield {
            "id": article.pk,
            "title": article.title,
            "byline": article.byline,
            "source": article.source.name if article.source else None,
            "url": article.url,
            "published": article.published.isoformat() if article.published else None,
            "status": article.status,
            "text": article.text,
            "spans": [
                {"start": m.start, "end": m.end, "label": m.label.name, "text": m.text,
                 "status": m.status, "origin": m.origin}
                for m in article.mentions.all()
            ],
            "claims": [],
        }
