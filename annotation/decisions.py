"""An analyst's decisions on mentions. Each checks the mention's version, changes one row,
moves the article along its workflow and records an Event, all in one transaction."""

from django.db import transaction
from django.utils import timezone

from annotation.models import Event, Mention
from corpus.models import Article


class Refused(Exception):
    """The decision cannot be taken as asked; `current` is the mention as it stands."""

    def __init__(self, current: Mention, message: str):
        super().__init__(message)
        self.current = current


class Overlap(Refused):
    pass


class StaleVersion(Exception):
    """The mention changed since the analyst saw it; `current` is what it is now."""

    def __init__(self, current: Mention):
        super().__init__(f"mention {current.pk} is at version {current.version}")
        self.current = current


def confirm(mention_id: int, *, version: int, by) -> Mention:
    return _decide(mention_id, Mention.Status.CONFIRMED, "mention.confirm", version=version, by=by)


def reject(mention_id: int, *, version: int, by) -> Mention:
    return _decide(mention_id, Mention.Status.REJECTED, "mention.reject", version=version, by=by)


def _decide(mention_id: int, status: str, action: str, *, version: int, by) -> Mention:
    with transaction.atomic():
        mention = Mention.objects.select_for_update().select_related("label", "article").get(
            pk=mention_id)
        if mention.version != version:
            raise StaleVersion(mention)
        before = mention.snapshot()
        mention.status = status
        mention.decided_by = by
        mention.decided_at = timezone.now()
        mention.version += 1
        if status != Mention.Status.REJECTED:
            _refuse_overlap(mention)
        mention.save(update_fields=["status", "decided_by", "decided_at", "version"])
        Event.record(action, mention,
                     article=mention.article, actor=by, before=before, after=mention.snapshot())
        start_work(mention.article, by=by)
    return mention


def start_work(article: Article, *, by) -> None:
    """The first decision on a pre-tagged (or returned) article puts it in progress."""
    if article.status in (Article.Status.NEW, Article.Status.PRETAGGED, Article.Status.RETURNED):
        before = {"status": article.status}
        article.status = Article.Status.IN_PROGRESS
        article.save(update_fields=["status", "updated_at"])
        Event.record("article.start", article, article=article, actor=by, before=before,
                     after={"status": article.status})


def _refuse_overlap(mention: Mention) -> None:
    # The database refuses it too (mention_no_overlap); checking first gives a clear message.
    other = (Mention.objects.live().filter(article_id=mention.article_id, start__lt=mention.end,
                                           end__gt=mention.start).exclude(pk=mention.pk).first())
    if other is not None:
        mention.refresh_from_db()
        raise Overlap(mention, f"“{mention.text}” overlaps “{other.text}” ({other.label.name}), "
                               "which stands: reject or resize that one first.")
