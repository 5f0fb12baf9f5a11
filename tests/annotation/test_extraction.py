"""Re-running the pre-tagger replaces only untouched suggestions (idempotency)."""

from annotation import decisions, extraction
from annotation.models import Mention


def test_rerun_keeps_every_decided_mention_and_adds_no_duplicates(seed_articles, nlp, analyst):
    article = seed_articles[2]
    extraction.pretag(article, nlp=nlp)
    first = list(article.mentions.order_by("start"))
    confirmed, rejected = first[0], first[1]
    decisions.confirm(confirmed.pk, version=confirmed.version, by=analyst)
    decisions.reject(rejected.pk, version=rejected.version, by=analyst)

    extraction.pretag(article, nlp=nlp)

    again = list(article.mentions.order_by("start"))
    assert len(again) == len(first)
    assert Mention.objects.get(pk=confirmed.pk).status == "confirmed"
    assert Mention.objects.get(pk=rejected.pk).status == "rejected"
    spans = [(m.start, m.end) for m in again]
    assert len(spans) == len(set(spans))


def test_rejected_suggestion_is_not_suggested_again(seed_articles, nlp, analyst):
    article = seed_articles[0]
    extraction.pretag(article, nlp=nlp)
    mention = article.mentions.first()
    decisions.reject(mention.pk, version=mention.version, by=analyst)
    extraction.pretag(article, nlp=nlp)
    assert article.mentions.filter(start=mention.start, end=mention.end).count() == 1


def test_analyst_mention_survives_a_retag_and_blocks_overlapping_suggestions(seed_articles, nlp, analyst):
    article = seed_articles[2]
    extraction.pretag(article, nlp=nlp)
    essid = article.mentions.get(text="Habib Essid")
    essid.delete()
    added = Mention.objects.create(article=article, start=essid.start - len("Minister "), end=essid.end,
                                   text=article.text[essid.start - len("Minister "):essid.end],
                                   label=essid.label, origin=Mention.Origin.ANALYST,
                                   status=Mention.Status.CONFIRMED, decided_by=analyst)
    extraction.pretag(article, nlp=nlp)
    assert Mention.objects.filter(pk=added.pk).exists()
    assert not article.mentions.filter(text="Habib Essid").exists()


def test_retag_does_not_move_an_article_in_progress_back(seed_articles, nlp, analyst):
    article = seed_articles[1]
    extraction.pretag(article, nlp=nlp)
    mention = article.mentions.first()
    decisions.confirm(mention.pk, version=mention.version, by=analyst)
    extraction.pretag(article, nlp=nlp)
    article.refresh_from_db()
    assert article.status == "in_progress"
