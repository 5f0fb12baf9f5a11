"""Turns nlp.py's output into Mention rows: the pre-tagging workflow.

Pre-tagging is idempotent: a re-run replaces only untouched machine suggestions and never
changes a mention an analyst has decided on (nor suggests again what they rejected).
"""

import functools
from collections.abc import Iterator, Sequence

from django.conf import settings
from django.db import transaction
from spacy.language import Language

from annotation import claim_decisions, learning
from annotation import nlp as spacy_nlp
from annotation.claims import FoundClaim
from annotation.models import Claim, Event, Label, Mention
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
    return sum(store_suggestions(article, found.entities, labels, claims=found.claims)
               for article, found in zip(articles, analyse(nlp, bodies, batch_size=batch_size)))


def analyse(nlp: Language, bodies: list[tuple[str, int]], *, batch_size: int = 32,
            learnt: bool = True) -> Iterator[spacy_nlp.Analysis]:
    """Entity and claim suggestions for each (body, offset): the pipeline, the label map, and
    (unless `learnt` is False, to measure without it) what the analysts taught."""
    knowledge = learning.knowledge() if learnt else learning.Knowledge([], frozenset(), "none")
    spacy_nlp.apply_knowledge(nlp, knowledge.patterns, knowledge.fingerprint)
    found = spacy_nlp.analyse_bodies(nlp, bodies, Label.objects.all().spacy_map(),
                                     batch_size=batch_size)
    return (spacy_nlp.Analysis(learning.without_suppressed(each.entities, knowledge), each.claims)
            for each in found)


def suggest(nlp: Language, bodies: list[tuple[str, int]], *, batch_size: int = 32,
            learnt: bool = True) -> Iterator[list[spacy_nlp.FoundEntity]]:
    """The entity suggestions alone (see `analyse`)."""
    return (each.entities for each in analyse(nlp, bodies, batch_size=batch_size, learnt=learnt))


def store_suggestions(article: Article, found: list[spacy_nlp.FoundEntity],
                      labels: dict[str, Label], *,
                      claims: Sequence[FoundClaim] = ()) -> int:
    """Write one article's suggestions in one transaction (bulk insert); returns how many
    entity suggestions. Claims go the same way: untouched ones are replaced, and none is
    suggested where a decided claim (a rejected one included) lies."""
    with transaction.atomic():
        article = Article.objects.select_for_update().get(pk=article.pk)
        # Claims may name an untouched suggestion as their speaker's mention: unhook them, then
        # delete in one statement (Mention has no other dependants).
        untouched = article.mentions.untouched_suggestions()
        unhooked = Claim.objects.filter(speaker_mention__in=untouched).update(speaker_mention=None)
        untouched._raw_delete(untouched.db)
        decided = list(article.mentions.select_related("label"))
        kept = sorted((mention.start, mention.end) for mention in decided)
        suggestions = [
            Mention(article=article, start=entity.start_char, end=entity.end_char,
                    text=entity.text, label=labels[entity.label], model_label=entity.model_label,
                    origin=Mention.Origin.PATTERN if entity.origin == "pattern" else Mention.Origin.MODEL)
            for entity in found
            if not _overlaps_any(entity.start_char, entity.end_char, kept)
        ]
        Mention.objects.bulk_create(suggestions)
        claim_count = _store_claims(article, claims, mentions=[*decided, *suggestions])
        if unhooked:
            claim_decisions.relink_speakers(article.pk)
        before = {"status": article.status}
        if article.status == Article.Status.NEW:
            article.status = Article.Status.PRETAGGED
            article.save(update_fields=["status", "updated_at"])
        Event.record("article.pretag", article, article=article, before=before,
                     after={"status": article.status, "suggestions": len(suggestions),
                            "kept": len(kept), "claims": claim_count})
    return len(suggestions)


def _store_claims(article: Article, found: Sequence[FoundClaim], *,
                  mentions: list[Mention]) -> int:
    # Untouched claims have no links (a link moves the version) and nothing points at them:
    # delete them in one statement, without collecting them first.
    untouched = article.claims.untouched_suggestions()
    untouched._raw_delete(untouched.db)
    kept = sorted(article.claims.values_list("start", "end"))
    speakers = claim_decisions.SpeakerIndex(mentions)
    claims = []
    for claim in found:
        if _overlaps_any(claim.start, claim.end, kept) or not (
                article.body_start <= claim.start < claim.end <= article.body_end):
            continue
        kept.append((claim.start, claim.end))  # the finder's own claims never overlap either
        speaker_start, speaker_end = (claim.speaker_start, claim.speaker_end) if (
            claim.speaker and claim.speaker_start is not None
            and claim.speaker_end > claim.speaker_start) else (None, None)
        claims.append(Claim(
            article=article, start=claim.start, end=claim.end, text=article.text[claim.start:claim.end],
            speaker=(claim.speaker or "")[:300], speaker_start=speaker_start, speaker_end=speaker_end,
            speaker_mention=speakers.at(speaker_start, speaker_end), cue=(claim.cue or "")[:50],
            direct=claim.direct, origin=Claim.Origin.MODEL))
    Claim.objects.bulk_create(claims)
    return len(claims)


def _overlaps_any(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    # A handful of decided mentions per article: a linear scan is cheaper than anything smarter.
    return any(start < other_end and other_start < end for other_start, other_end in spans)
