import dramatiq

from annotation import extraction
from corpus import importing
from corpus.models import Article


@dramatiq.actor(max_retries=3, time_limit=10 * 60 * 1000)
def pretag_articles(article_ids: list[int], retag: bool = False) -> None:
    """Pre-tag a chunk of articles in one `nlp.pipe` pass.

    Without `retag`, articles already pre-tagged are skipped, so a message delivered twice
    (at-least-once delivery) does nothing the second time.
    """
    articles = Article.objects.filter(pk__in=article_ids).defer("search").order_by("pk")
    if not retag:
        articles = articles.untagged()
    articles = list(articles)
    extraction.pretag_many(articles, nlp=extraction.get_nlp())
    importing.mark_ready({article.batch_id for article in articles if article.batch_id})
