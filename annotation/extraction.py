"""Turns nlp.py's output into Mention rows: the pre-tagging workflow.

Pre-tagging is idempotent: a re-run replaces only untouched machine suggestions and never
changes a mention an analyst has decided on (nor suggests again what they rejected).

It is written for throughput (bench/pretag.py): the articles are parsed in `nlp.pipe` batches
and each batch is stored in one transaction, with a handful of statements for the whole batch
(the articles' locks, the mentions and claims by COPY, the statuses and the Events); only an
article that already holds mentions or claims costs statements of its own, to clear them.
"""

import functools
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from spacy.language import Language

from annotation import claim_decisions, learning
from annotation import nlp as spacy_nlp
from annotation.claims import FoundClaim
from annotation.models import Claim, Event, Label, Mention
from config.bulk import copy_insert
from corpus.models import Article


@functools.cache
def get_nlp() -> Language:
    """The configured pipeline, loaded once per process (worker or command), never per page."""
    return spacy_nlp.load(settings.SPACY_PIPELINE)


def pretag(article: Article, *, nlp: Language) -> int:
    return pretag_many([article], nlp=nlp)


def pretag_many(articles: Sequence[Article], *, nlp: Language, batch_size: int = 32) -> int:
    """Pre-tag the articles with `nlp.pipe` over their bodies; returns how many suggestions.
    Each batch of `batch_size` articles is stored in one transaction (`store_chunk`).

    What the analysts taught (annotation.learning) applies: confirmed names as patterns, and
    no suggestion of what they keep rejecting."""
    rows = Label.objects.all()
    labels = {label.name: label for label in rows}
    found = analyse(nlp, [(article.body, article.body_start) for article in articles],
                    batch_size=batch_size, label_map=rows.spacy_map())  # rows' cache: no query
    suggestions = 0
    for start in range(0, len(articles), batch_size):
        chunk = articles[start:start + batch_size]
        # Parsed before the transaction opens: the articles stay locked for the writes only.
        results = list(itertools.islice(found, len(chunk)))
        suggestions += store_chunk(list(zip(chunk, results)), labels)
    # Imports leave the full-text document to this step (computing it costs more than storing).
    Article.objects.filter(pk__in=[article.pk for article in articles]).index_for_search()
    return suggestions


def analyse(nlp: Language, bodies: list[tuple[str, int]], *, batch_size: int = 32,
            learnt: bool = True, label_map: dict[str, str] | None = None
            ) -> Iterator[spacy_nlp.Analysis]:
    """Entity and claim suggestions for each (body, offset): the pipeline, the label map (read
    from the labels unless given), and (unless `learnt` is False, to measure without it) what
    the analysts taught."""
    knowledge = learning.knowledge() if learnt else learning.Knowledge([], frozenset(), "none")
    spacy_nlp.apply_knowledge(nlp, knowledge.patterns, knowledge.fingerprint)
    if label_map is None:
        label_map = Label.objects.all().spacy_map()
    found = spacy_nlp.analyse_bodies(nlp, bodies, label_map, batch_size=batch_size)
    return (spacy_nlp.Analysis(learning.without_suppressed(each.entities, knowledge), each.claims)
            for each in found)


def suggest(nlp: Language, bodies: list[tuple[str, int]], *, batch_size: int = 32,
            learnt: bool = True) -> Iterator[list[spacy_nlp.FoundEntity]]:
    """The entity suggestions alone (see `analyse`)."""
    return (each.entities for each in analyse(nlp, bodies, batch_size=batch_size, learnt=learnt))


def store_suggestions(article: Article, found: list[spacy_nlp.FoundEntity],
                      labels: dict[str, Label], *,
                      claims: Sequence[FoundClaim] = ()) -> int:
    """Write one article's suggestions (see `store_chunk`); returns how many entity suggestions."""
    return store_chunk([(article, spacy_nlp.Analysis(list(found), list(claims)))], labels)


@dataclass
class _Stored:
    """One article's part of a chunk, as it is written."""

    article: Article
    found: spacy_nlp.Analysis
    status: str  # as locked, before this run
    decided: list[Mention] = field(default_factory=list)  # mentions kept: suggestions go around
    kept_claims: list[tuple[int, int]] = field(default_factory=list)
    unhooked: bool = False  # a claim named a replaced suggestion as its speaker's mention
    suggestions: list[Mention] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)


def store_chunk(found: Sequence[tuple[Article, spacy_nlp.Analysis]],
                labels: dict[str, Label]) -> int:
    """Write the suggestions of several articles in one transaction; returns how many entity
    suggestions. Untouched suggestions are replaced, decided mentions and claims are kept and
    nothing is suggested over them (a rejected one included).

    All or nothing: every article's suggestions, claims, new status and Event commit together,
    or none does. An article is locked (in id order, so two writers never deadlock) and its
    status read again under the lock; one deleted meanwhile is skipped."""
    with transaction.atomic():
        current = _lock([article.pk for article, _ in found])
        chunk = []
        for article, analysis in found:
            if article.pk not in current:
                continue
            status, has_rows = current[article.pk]
            stored = _Stored(article, analysis, status)
            if has_rows:
                _clear_untouched(stored)
            kept = sorted((mention.start, mention.end) for mention in stored.decided)
            stored.suggestions = [
                Mention(article=article, start=entity.start_char, end=entity.end_char,
                        text=entity.text, label=labels[entity.label], model_label=entity.model_label,
                        origin=Mention.Origin.PATTERN if entity.origin == "pattern" else Mention.Origin.MODEL)
                for entity in analysis.entities
                if not _overlaps_any(entity.start_char, entity.end_char, kept)
            ]
            chunk.append(stored)
        copy_insert(Mention, [mention for stored in chunk for mention in stored.suggestions])
        for stored in chunk:
            stored.claims = _claims(stored)
        copy_insert(Claim, [claim for stored in chunk for claim in stored.claims])
        for stored in chunk:
            if stored.unhooked:
                claim_decisions.relink_speakers(stored.article.pk)
        _finish(chunk)
    return sum(len(stored.suggestions) for stored in chunk)


def _lock(ids: list[int]) -> dict[int, tuple[str, bool]]:
    """{article id: (status, whether it holds any mention or claim)}, the rows locked."""
    rows = (Article.objects.select_for_update().filter(pk__in=ids).order_by("pk")
            .annotate(has_mentions=Exists(Mention.objects.filter(article=OuterRef("pk"))),
                      has_claims=Exists(Claim.objects.filter(article=OuterRef("pk"))))
            .values_list("pk", "status", "has_mentions", "has_claims"))
    return {pk: (status, has_mentions or has_claims) for pk, status, has_mentions, has_claims in rows}


def _clear_untouched(stored: _Stored) -> None:
    """Delete the article's untouched suggestions (mentions and claims); note what stays."""
    article = stored.article
    # Claims may name an untouched suggestion as their speaker's mention: unhook them, then
    # delete in one statement (Mention has no other dependants).
    untouched = article.mentions.untouched_suggestions()
    stored.unhooked = bool(Claim.objects.filter(speaker_mention__in=untouched)
                           .update(speaker_mention=None))
    untouched._raw_delete(untouched.db)
    stored.decided = list(article.mentions.select_related("label"))
    # Untouched claims have no links (a link moves the version) and nothing points at them:
    # delete them in one statement, without collecting them first.
    untouched_claims = article.claims.untouched_suggestions()
    untouched_claims._raw_delete(untouched_claims.db)
    stored.kept_claims = sorted(article.claims.values_list("start", "end"))


def _claims(stored: _Stored) -> list[Claim]:
    """The claims to suggest: none over a kept claim nor outside the body; each with the
    standing mention at its speaker's place."""
    article, kept = stored.article, stored.kept_claims
    speakers = claim_decisions.SpeakerIndex([*stored.decided, *stored.suggestions])
    claims = []
    for claim in stored.found.claims:
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
    return claims


def _finish(chunk: list[_Stored]) -> None:
    """New articles become pre-tagged (one statement) and each article gets its Event."""
    new = [stored.article.pk for stored in chunk if stored.status == Article.Status.NEW]
    if new:
        Article.objects.filter(pk__in=new).update(status=Article.Status.PRETAGGED,
                                                  updated_at=timezone.now())
    Event.objects.bulk_create([
        Event(action="article.pretag", subject_type=Article._meta.model_name,
              subject_id=stored.article.pk, article=stored.article,
              before={"status": stored.status},
              after={"status": Article.Status.PRETAGGED if stored.status == Article.Status.NEW
                     else stored.status,
                     "suggestions": len(stored.suggestions), "kept": len(stored.decided),
                     "claims": len(stored.claims)})
        for stored in chunk])


def _overlaps_any(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    # A handful of decided mentions per article: a linear scan is cheaper than anything smarter.
    return any(start < other_end and other_start < end for other_start, other_end in spans)
