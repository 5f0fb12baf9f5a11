"""Claims in other articles that may back up or contradict a claim, and what a claim's links add up
to (independent outlets, contradictions, the grades of its sources).

Both work in the database: `candidates` ranks the corpus in one query after reading the claim's
own entities and figures, and `summaries` reads any number of claims and their links in two.
"""

import re
from dataclasses import dataclass, field

from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector, TrigramSimilarity
from django.db import models
from django.db.models import F, FloatField, Func, OuterRef, Q, Value
from django.db.models.functions import Coalesce

from annotation.models import Claim, ClaimLink, Entity, Mention
from config import rows
from config.auth import user_columns
from config.rows import Columns, split
from corpus.models import Source

# How much each shared thing weighs against text similarity (which lies between 0 and about 2).
ENTITY_WEIGHT = 1.0
FIGURE_WEIGHT = 1.5
# ts_rank of an OR-query is small and grows with the words in common; this brings it near
# trigram similarity's 0–1 scale.
RANK_SCALE = 10.0
_WORD = re.compile(r"[^\W_]+")


class FigureNumbers(Func):
    """The numbers a figure's text holds, thousands separators dropped ("Around 1,000 to 2,000"
    → {1000, 2000}, "36" → {36}); a figure without digits ("dozens") is its lower-cased text.
    Takes a column: the expression is read twice."""

    template = (
        "CASE WHEN %(expressions)s ~ '[0-9]' THEN regexp_split_to_array(btrim(regexp_replace("
        r"regexp_replace(%(expressions)s, '([0-9]),(?=[0-9]{3})', '\1', 'g'), "
        r"'[^0-9.]+|\.(?![0-9])|(?<![0-9])\.', ' ', 'g')), '\s+') "
        "ELSE ARRAY[lower(btrim(%(expressions)s))] END")
    output_field = ArrayField(models.TextField())


class Cardinality(Func):
    function = "cardinality"
    output_field = FloatField()  # weighed against float scores


@dataclass
class Candidate:
    """A claim of another article, and why it may be about the same thing."""

    claim: Claim
    score: float
    shared_entities: list[str]
    shared_figures: list[str]  # the candidate's figures whose numbers the claim also gives
    text_rank: float  # full-text rank of its text against the claim's words
    trigram: float  # trigram similarity of the two texts

    @property
    def text_similarity(self) -> float:
        return self.text_rank + self.trigram


def candidates(claim: Claim, limit: int = 10) -> list[Candidate]:
    """Standing claims of other articles, not linked to this one yet, best first: by the entities
    they share (inside the span, or as the speaker), the figures they share, and their text."""
    entity_ids, figure_keys = _features(claim)
    words = " or ".join(_WORD.findall(claim.text))
    query = SearchQuery(words, search_type="websearch", config="english")
    text_rank = Coalesce(SearchRank(SearchVector("text", config="english"), query), 0.0)
    linked = (ClaimLink.objects.filter(claim=claim).values("other_id")
              .union(ClaimLink.objects.filter(other=claim).values("claim_id")))
    inside = Q(article_id=OuterRef("article_id"), start__gte=OuterRef("start"), end__lte=OuterRef("end"))
    shared_entities = ArraySubquery(
        Mention.objects.live().filter(inside | Q(pk=OuterRef("speaker_mention_id")))
        .filter(entity_id__in=entity_ids).values("entity__name").distinct().order_by("entity__name"))
    shared_figures = ArraySubquery(
        Mention.objects.live().filter(inside, label__name="FIGURE").alias(numbers=FigureNumbers("text"))
        .filter(numbers__overlap=figure_keys).values("text").order_by("start"))
    rows = (Claim.objects.live().exclude(article_id=claim.article_id).exclude(pk__in=linked)
            .select_related(*_SOURCES).defer("article__text")
            .annotate(shared_entities=shared_entities if entity_ids else Value([], _TEXTS),
                      shared_figures=shared_figures if figure_keys else Value([], _TEXTS),
                      text_rank=text_rank * RANK_SCALE,
                      trigram=TrigramSimilarity("text", claim.text))
            .annotate(score=ENTITY_WEIGHT * Cardinality("shared_entities")
                      + FIGURE_WEIGHT * Cardinality("shared_figures")
                      + F("text_rank") + F("trigram"))
            .filter(score__gt=0).order_by("-score", "pk")[:limit])
    return [Candidate(row, row.score, row.shared_entities, row.shared_figures, row.text_rank,
                      row.trigram) for row in rows]


_TEXTS = ArrayField(models.TextField())


def _features(claim: Claim) -> tuple[list[int], list[str]]:
    """The entities a claim names (inside its span, and its speaker's) and its figures' numbers,
    in one query."""
    rows = (Mention.objects.live()
            .filter(Q(pk__in=claim.mentions_inside().values("pk")) | Q(pk=claim.speaker_mention_id))
            .annotate(numbers=FigureNumbers("text"))
            .values_list("entity_id", "label__name", "numbers"))
    entity_ids, keys = set(), set()
    for entity_id, label, numbers in rows:
        if entity_id is not None:
            entity_ids.add(entity_id)
        if label == "FIGURE":
            keys.update(numbers)
    return sorted(entity_ids), sorted(keys)


@dataclass
class LinkedClaim:
    """A claim linked to the one summarised, with the evidence span in its article."""

    link: ClaimLink
    claim: Claim
    evidence_start: int
    evidence_end: int

    @property
    def relation(self) -> str:
        return self.link.relation


@dataclass
class ClaimSummary:
    """What a claim's sources add up to."""

    claim: Claim
    outlets: list[str]  # independent outlets reporting it, its own article's first
    corroborating: list[LinkedClaim] = field(default_factory=list)
    contradicting: list[LinkedClaim] = field(default_factory=list)
    same: list[LinkedClaim] = field(default_factory=list)

    @property
    def outlet_count(self) -> int:
        return len(self.outlets)

    @property
    def backing(self) -> int:
        """Claims in other articles that corroborate it or state the same."""
        return len(self.corroborating) + len(self.same)

    @property
    def contradicted(self) -> bool:
        return bool(self.contradicting)

    @property
    def links(self) -> list[LinkedClaim]:
        return [*self.same, *self.corroborating, *self.contradicting]

    @property
    def speaker_entity(self) -> Entity | None:
        mention = self.claim.speaker_mention
        return mention.entity if mention is not None else None

    @property
    def speaker_reliability(self) -> str:
        entity = self.speaker_entity
        return entity.get_reliability_display() if entity is not None and entity.reliability else ""

    @property
    def outlet(self) -> Source | None:
        return self.claim.article.source

    @property
    def outlet_reliability(self) -> str:
        return self.outlet.get_reliability_display() if self.outlet is not None else ""

    @property
    def credibility(self) -> str:
        return self.claim.get_credibility_display() if self.claim.credibility else ""


def summaries(claims: list[Claim], *, loaded: bool = False) -> list[ClaimSummary]:
    """One summary a claim, in the order given, in at most three queries whatever their number:
    the claims with their outlets and speakers (none when `loaded`: the caller read them with
    their article, its source, speaker_mention__entity and graded_by), their links, and the
    claims at the other end of those links (none when there are no links)."""
    if not claims:
        return []
    ids = [claim.pk for claim in claims]
    if not loaded:
        claims = (Claim.objects.filter(pk__in=ids).select_related(*_SOURCES, "graded_by")
                  .defer("article__text"))
    by_id = {claim.pk: ClaimSummary(claim, [_outlet(claim)]) for claim in claims}
    outlets = {pk: {_outlet_key(summary.claim)} for pk, summary in by_id.items()}
    # The links alone first (most claims have none): joining every side's outlet and speaker
    # into this query cost more to build than the page's own.
    links = _links_of(ids)
    ends = {pk for link in links for pk in (link.claim_id, link.other_id)} - by_id.keys()
    others = {claim.pk: claim for claim in Claim.objects.filter(pk__in=ends)
              .select_related(*_SOURCES).defer("article__text")} if ends else {}
    others |= {pk: summary.claim for pk, summary in by_id.items()}
    for link in links:
        link.claim, link.other = others[link.claim_id], others[link.other_id]
        for mine, other in ((link.claim_id, link.other), (link.other_id, link.claim)):
            summary = by_id.get(mine)
            if summary is None:
                continue
            # The evidence span lies in the other claim's article; seen from the other side of
            # the link, that is the claim's own span.
            start, end = ((link.evidence_start, link.evidence_end) if other.pk == link.other_id
                          else (other.start, other.end))
            getattr(summary, _SIDES[link.relation]).append(LinkedClaim(link, other, start, end))
            if link.relation != ClaimLink.Relation.CONTRADICTS and _outlet_key(other) not in outlets[mine]:
                outlets[mine].add(_outlet_key(other))
                summary.outlets.append(_outlet(other))
    return [by_id[pk] for pk in ids if pk in by_id]


_SOURCES = ("article__source", "speaker_mention__entity")
_LINK = Columns(ClaimLink, "k")


def _links_of(ids: list[int]) -> list[ClaimLink]:
    """The links from or to these claims, oldest first, with who made them: plain SQL
    (config/rows.py), since every page and every redrawn claim row asks, and most find none."""
    linker = user_columns()
    with rows.cursor() as cursor:
        cursor.execute(
            f"""SELECT {_LINK.sql}, {linker.sql} FROM {ClaimLink._meta.db_table} k
                LEFT JOIN {linker.model._meta.db_table} u ON u.id = k.created_by_id
                WHERE k.claim_id = ANY(%(ids)s) OR k.other_id = ANY(%(ids)s)
                ORDER BY k.created_at, k.id""", {"ids": ids})
        found = cursor.fetchall()
    links = []
    for row in found:
        link_values, user_values = split(row, _LINK, linker)
        link = _LINK.make(link_values)
        link.created_by = linker.make(user_values) if link.created_by_id else None
        links.append(link)
    return links


_SIDES = {ClaimLink.Relation.CORROBORATES: "corroborating", ClaimLink.Relation.CONTRADICTS: "contradicting",
          ClaimLink.Relation.SAME: "same"}


def _outlet_key(claim: Claim) -> tuple[str, int]:
    """An article without a source is an outlet of its own."""
    source_id = claim.article.source_id
    return ("source", source_id) if source_id is not None else ("article", claim.article_id)


def _outlet(claim: Claim) -> str:
    source = claim.article.source
    return source.name if source is not None else f"“{claim.article.title}” (no outlet)"
