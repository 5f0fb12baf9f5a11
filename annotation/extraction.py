"""Turns nlp.py's output into Mention rows: the pre-tagging workflow.

Pre-tagging is idempotent: a re-run replaces only untouched machine suggestions and never
changes a mention an analyst has decided on (nor suggests again what they rejected).
"""

import functools
from collections.abc import Iterator, Sequence

from django.conf import settings
from django.db import transaction
from spacy.language import Language

from annotation import learning
from annotation import nlp as spacy_nlp
from annotation.models import Event, Label, Mention
from corpus.models import Article


@functools.cache
def get_nlp() -> Language:
    """The configured pipeline, loaded once per process (worker or command), never per page."""
    return spacy_nlp.load(settings.SPACY_PIPELINE)


def pretag(article: Article, *, nlp: Language) -> int:
    return pretag_many([article], nlp=nlp)


def pretag_many(articles: Sequence[Article], *, nlp: Language, batch_size: int = 32) -> int:
    """Pre-tag the articles with `nlp.pipe` over their bodies; returns how many suggestions.

    What the analysts taught (annotation.learning) applies: confirmed names as patterns, and
    no suggestion of what they keep rejecting."""
    labels = {label.name: label for label in Label.objects.all()}
    bodies = [(article.body, article.body_start) for article in articles]
    return sum(store_suggestions(article, found, labels)
               for article, found in zip(articles, suggest(nlp, bodies, batch_size=batch_size)))


def suggest(nlp: Language, bodies: list[tuple[str, int]], *, batch_size: int = 32,
            learnt: bool = True) -> Iterator[list[spacy_nlp.FoundEntity]]:
    """The suggestions for each (body, offset): the pipeline, the label map, and (unless
    `learnt` is False, to measure without it) what the analysts taught."""
    knowledge = learning.knowledge() if learnt else learning.Knowledge([], frozenset(), "none")
    spacy_nlp.apply_knowledge(nlp, knowledge.patterns, knowledge.fingerprint)
    found = spacy_nlp.find_entities_in_bodies(nlp, bodies, Label.objects.all().spacy_map(),
                                              batch_size=batch_size)
    return (learning.without_suppressed(entities, knowledge) for entities in found)


def store_suggestions(article: Article, found: list[spacy_nlp.FoundEntity],
                      labels: dict[str, Label]) -> int:
    """Write one article's suggestions in one transaction (bulk insert)."""
    with transaction.atomic():
        article = Article.objects.select_for_update().get(pk=article.pk)
        article.mentions.untouched_suggestions().delete()
        kept = sorted(article.mentions.values_list("start", "end"))
        suggestions = [
            Mention(article=article, start=entity.start_char, end=entity.end_char,
                    text=entity.text, label=labels[entity.label], model_label=entity.model_label,
                    origin=Mention.Origin.PATTERN if entity.origin == "pattern" else Mention.Origin.MODEL)
            for entity in found
            if not _overlaps_any(entity.start_char, entity.end_char, kept)
        ]
        Mention.objects.bulk_create(suggestions)
        before = {"status": article.status}
        if article.status == Article.Status.NEW:
            article.status = Article.Status.PRETAGGED
            article.save(update_fields=["status", "updated_at"])
        Event.record("article.pretag", article, article=article, before=before,
                     after={"status": article.status, "suggestions": len(suggestions),
                            "kept": len(kept)})
    return len(suggestions)


def _overlaps_any(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    # A handful of decided mentions per article: a linear scan is cheaper than anything smarter.
    return any(start < other_end and other_start < end for other_start, other_end in spans)
