"""Annotations out of the database.

Six shapes, all streamed (articles read in chunks with their mentions, claims and links
prefetched: a constant number of queries per chunk, however many claims an article has):

    gold_shaped        one dict per article in the shape of ../shared/gold/seeds.jsonl (text, spans,
                       claims), each span and claim with its status; each claim with its links to
                       other articles' claims. `import_articles --confirmed` reads it back.
    web_annotations    W3C Web Annotation (JSON-LD) of every mention and claim;
                       `web_annotation_document` wraps them in one AnnotationCollection.
    claims_with_sources / claim_source_rows
                       one dict per claim with its sources (speaker, article and outlet, linked
                       claims) / one flat row per claim–source pair, for JSONL and CSV.
    spacy_docs / docbin_shards / spacy_zip
                       one spaCy Doc per article (blank English tokenizer): confirmed mentions as
                       doc.ents, confirmed claims in doc.spans["claims"]; DocBins of N docs each,
                       or a zip of them streamed piece by piece, for `spacy train`.
    prodigy_tasks      one Prodigy-style task per article (text, meta, tokens, spans, answer).
    mention_rows       one flat row per standing mention, for CSV.

Articles are named across databases by `text_hash` (sha256 of the normalised text), never by
primary key: a link names the other claim as (article text_hash, start, end).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from django.db.models import F, Prefetch
from django.db.models.functions import Substr
from django.utils import timezone

from annotation.models import Claim, ClaimLink, Credibility, Mention
from corpus.models import Article

if TYPE_CHECKING:  # spaCy is imported by the spaCy exports only: the web process does without it
    from spacy.language import Language
    from spacy.tokens import Doc, DocBin, Span

ANNO_CONTEXT = "http://www.w3.org/ns/anno.jsonld"
LDP_CONTEXT = "http://www.w3.org/ns/ldp.jsonld"
QUOTE_CONTEXT = 32  # characters of prefix and suffix in a TextQuoteSelector


def _articles(articles, chunk_size: int, *, links: bool = True) -> Iterator[Article]:
    """The articles in pk order, each with mentions, claims and (unless links=False) both ends of
    the claims' links."""
    articles = (articles if articles is not None else Article.objects.all()).with_source()
    mentions = Prefetch("mentions", queryset=Mention.objects.select_related("label", "entity__label",
                                                                            "decided_by"))
    # A link's other end and evidence, without loading the other article's whole text.
    links_out = Prefetch("links_out", queryset=ClaimLink.objects.select_related("other", "created_by")
                         .annotate(other_hash=F("other__article__text_hash"),
                                   other_title=F("other__article__title"),
                                   evidence_hash=F("other__article__text_hash"),
                                   evidence_text=_evidence_text()))
    links_in = Prefetch("links_in", queryset=ClaimLink.objects.select_related("claim", "created_by")
                        .annotate(other_hash=F("claim__article__text_hash"),
                                  other_title=F("claim__article__title"),
                                  evidence_hash=F("other__article__text_hash"),
                                  evidence_text=_evidence_text()))
    claims = Claim.objects.select_related("speaker_mention__entity__label", "graded_by", "decided_by")
    claims = Prefetch("claims", queryset=claims.prefetch_related(links_out, links_in) if links else claims)
    return articles.order_by("pk").prefetch_related(mentions, claims).iterator(chunk_size=chunk_size)


def _evidence_text():
    """The evidence span's characters, cut in the database (Substr counts from 1)."""
    return Substr("other__article__text", F("evidence_start") + 1, F("evidence_end") - F("evidence_start"))


def _username(user) -> str | None:
    return user.get_username() if user else None


def _iso(value) -> str | None:
    return value.isoformat() if value else None


# =============================================================================================
# The gold shape
# =============================================================================================

def gold_shaped(articles=None, *, chunk_size: int = 200) -> Iterator[dict]:
    """One dict a line: text, spans (each with status and origin), claims (each with status,
    origin, credibility and links)."""
    for article in _articles(articles, chunk_size):
        yield {
            "id": article.pk,
            "text_hash": article.text_hash,
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
                for m in sorted(article.mentions.all(), key=lambda m: (m.start, m.end))
            ],
            "claims": [_gold_claim(claim) for claim in _sorted_claims(article)],
        }


def _sorted_claims(article) -> list[Claim]:
    return sorted(article.claims.all(), key=lambda c: (c.start, c.end, c.pk))


def _gold_claim(claim: Claim) -> dict:
    return {
        "start": claim.start, "end": claim.end, "text": claim.text,
        "speaker": claim.speaker or None, "speaker_start": claim.speaker_start,
        "speaker_end": claim.speaker_end, "cue": claim.cue or None, "direct": claim.direct,
        "status": claim.status, "origin": claim.origin, "credibility": claim.credibility,
        "decided_by": _username(claim.decided_by), "decided_at": _iso(claim.decided_at),
        "graded_by": _username(claim.graded_by), "graded_at": _iso(claim.graded_at),
        # Each link once, on the claim it starts from; the other claim by text_hash and span.
        "links": [
            {"relation": link.relation,
             "other": {"article": link.other_hash, "start": link.other.start, "end": link.other.end},
             "evidence_start": link.evidence_start, "evidence_end": link.evidence_end,
             "created_by": _username(link.created_by)}
            for link in link_order(claim.links_out.all())
        ],
    }


def link_order(links) -> list[ClaimLink]:
    return sorted(links, key=lambda link: (link.created_at, link.pk))


# =============================================================================================
# W3C Web Annotation
# =============================================================================================

def article_iri(article: Article, base_url: str = "") -> str:
    """The article as the annotations' target: its page in the app when a base URL is given,
    else a URN that holds in any database."""
    if base_url:
        return base_url.rstrip("/") + article.get_absolute_url()
    return f"urn:sourcemark:article:{article.text_hash}"


def selectors(text: str, start: int, end: int) -> list[dict]:
    """A TextQuoteSelector (exact, with up to 32 characters either side) and a
    TextPositionSelector for text[start:end]."""
    return [
        {"type": "TextQuoteSelector", "exact": text[start:end],
         "prefix": text[max(0, start - QUOTE_CONTEXT):start], "suffix": text[end:end + QUOTE_CONTEXT]},
        {"type": "TextPositionSelector", "start": start, "end": end},
    ]


def entity_iri(entity) -> str:
    """An entity by label and name (unique together), the same in any database."""
    return f"urn:sourcemark:entity:{entity.label.name}:{quote(entity.name, safe='')}"


def web_annotations(articles=None, *, base_url: str = "", chunk_size: int = 200) -> Iterator[dict]:
    """One W3C Web Annotation per mention (motivation tagging; bodies: the label, and the entity
    when the mention is linked to one) and per claim (motivation describing; bodies: the speaker
    and where the text names them, the cue, the status and, once graded, the credibility)."""
    for article in _articles(articles, chunk_size):
        source = article_iri(article, base_url)
        urn = f"urn:sourcemark:article:{article.text_hash}"
        for mention in sorted(article.mentions.all(), key=lambda m: (m.start, m.end)):
            yield _mention_annotation(article, mention, source, urn)
        for claim in _sorted_claims(article):
            yield _claim_annotation(article, claim, source, urn)


def _annotation(id_: str, motivation: str, body: list[dict], article: Article, source: str,
                start: int, end: int, creator, created) -> dict:
    annotation = {
        "@context": ANNO_CONTEXT, "id": id_, "type": "Annotation", "motivation": motivation,
        "body": body,
        "target": {"source": source, "selector": selectors(article.text, start, end)},
    }
    if creator:
        annotation["creator"] = {"type": "Person", "nickname": creator}
    else:
        annotation["creator"] = {"type": "Software", "name": "Sourcemark"}
    annotation["created"] = _iso(created)
    return annotation


def _annotation_id(urn: str, kind: str, span) -> str:
    """The article's URN, the kind and the span: the same in any database, and unique, as two
    standing mentions (or claims) never overlap; a rejected one adds its primary key, since a
    span may have been rejected more than once."""
    id_ = f"{urn}:{kind}:{span.start}-{span.end}"
    return f"{id_}:rejected:{span.pk}" if span.status == "rejected" else id_


def _mention_annotation(article, mention: Mention, source: str, urn: str) -> dict:
    body = [{"type": "TextualBody", "purpose": "tagging", "value": mention.label.name},
            {"type": "TextualBody", "purpose": "classifying", "value": mention.status}]
    if mention.entity is not None:
        body.append({"id": entity_iri(mention.entity), "purpose": "identifying",
                     "type": "SpecificResource", "source": entity_iri(mention.entity),
                     "label": mention.entity.name, "accepted": mention.entity_accepted})
    creator = _username(mention.decided_by) if mention.origin == Mention.Origin.ANALYST else None
    return _annotation(_annotation_id(urn, "mention", mention), "tagging", body, article,
                       source, mention.start, mention.end, creator, mention.created_at)


def _claim_annotation(article, claim: Claim, source: str, urn: str) -> dict:
    body = [{"type": "TextualBody", "purpose": "describing", "value": "claim"},
            {"type": "TextualBody", "purpose": "classifying", "value": claim.status}]
    if claim.speaker:
        speaker = {"type": "TextualBody", "purpose": "identifying", "value": claim.speaker,
                   "role": "speaker"}
        if claim.speaker_start is not None:
            speaker["selector"] = selectors(article.text, claim.speaker_start, claim.speaker_end)
        mention = claim.speaker_mention
        if mention is not None and mention.entity is not None:
            speaker["source"] = entity_iri(mention.entity)
        body.append(speaker)
    if claim.cue:
        body.append({"type": "TextualBody", "purpose": "tagging", "value": claim.cue, "role": "cue"})
    if claim.credibility:
        body.append({"type": "TextualBody", "purpose": "assessing",
                     "value": Credibility(claim.credibility).label, "credibility": claim.credibility})
    creator = _username(claim.decided_by) if claim.origin == Claim.Origin.ANALYST else None
    return _annotation(_annotation_id(urn, "claim", claim), "describing", body, article,
                       source, claim.start, claim.end, creator, claim.created_at)


def web_annotation_document(articles=None, *, base_url: str = "", chunk_size: int = 200) -> Iterator[str]:
    """One JSON-LD document, an AnnotationCollection whose first (and only) AnnotationPage holds
    every annotation, written piece by piece so that it streams."""
    head = {"@context": [ANNO_CONTEXT, LDP_CONTEXT],
            "id": f"urn:sourcemark:export:{timezone.now().strftime('%Y%m%dT%H%M%S%fZ')}",
            "type": ["AnnotationCollection", "BasicContainer"], "label": "Sourcemark annotations"}
    opening = json.dumps(head, ensure_ascii=False)[:-1]
    yield opening + ', "first": {"type": "AnnotationPage", "startIndex": 0, "items": [\n'
    previous = None  # each annotation on its own line, a comma after all but the last
    for annotation in web_annotations(articles, base_url=base_url, chunk_size=chunk_size):
        if previous is not None:
            yield previous + ",\n"
        previous = json.dumps(annotation, ensure_ascii=False)
    if previous is not None:
        yield previous + "\n"
    yield "]}}\n"


# =============================================================================================
# Claims with their sources
# =============================================================================================

def claims_with_sources(articles=None, *, chunk_size: int = 200) -> Iterator[dict]:
    """One dict per claim: its article and outlet, span, speaker and their entity, cue,
    credibility, status, and its links both ways (the other claim, the evidence, who linked)."""
    for article in _articles(articles, chunk_size):
        outlet = article.source
        for claim in _sorted_claims(article):
            entity = claim.speaker_mention.entity if claim.speaker_mention else None
            yield {
                "article": {"id": article.pk, "text_hash": article.text_hash, "title": article.title,
                            "url": article.url, "published": _iso(article.published)},
                "outlet": ({"name": outlet.name, "reliability": outlet.reliability} if outlet else None),
                "start": claim.start, "end": claim.end, "text": claim.text,
                "speaker": claim.speaker or None, "speaker_start": claim.speaker_start,
                "speaker_end": claim.speaker_end,
                "speaker_entity": ({"name": entity.name, "label": entity.label.name,
                                    "reliability": entity.reliability or None} if entity else None),
                "cue": claim.cue or None, "direct": claim.direct,
                "credibility": claim.credibility, "graded_by": _username(claim.graded_by),
                "graded_at": _iso(claim.graded_at), "status": claim.status, "origin": claim.origin,
                "links": [_source_link(link, "out", link.other) for link in link_order(claim.links_out.all())]
                + [_source_link(link, "in", link.claim) for link in link_order(claim.links_in.all())],
            }


def _source_link(link: ClaimLink, direction: str, other: Claim) -> dict:
    """A link seen from one of its claims. The evidence lies in the article of the link's
    `other` claim: the other article for a link out, this one for a link in."""
    return {"direction": direction, "relation": link.relation,
            "other": {"article": link.other_hash, "title": link.other_title, "start": other.start,
                      "end": other.end, "text": other.text, "status": other.status},
            "evidence": {"article": link.evidence_hash, "start": link.evidence_start,
                         "end": link.evidence_end, "text": link.evidence_text},
            "created_by": _username(link.created_by), "created_at": _iso(link.created_at)}


CSV_COLUMNS = [
    "article_id", "article_hash", "article_title", "claim_start", "claim_end", "claim_text", "cue",
    "direct", "status", "origin", "credibility",
    # The source: `speaker`, `outlet` (always one row, the article's publisher, empty when none)
    # or `link` (another article's claim).
    "source_kind", "source_name", "source_reliability", "source_start", "source_end",
    "relation", "direction", "other_article_hash", "other_claim_text", "evidence_start",
    "evidence_end", "evidence_text", "linked_by",
]


def claim_source_rows(articles=None, *, chunk_size: int = 200) -> Iterator[dict]:
    """One flat row per claim–source pair (columns CSV_COLUMNS): the outlet, the speaker when the
    text names one, each linked claim."""
    for claim in claims_with_sources(articles, chunk_size=chunk_size):
        base = {"article_id": claim["article"]["id"], "article_hash": claim["article"]["text_hash"],
                "article_title": claim["article"]["title"], "claim_start": claim["start"],
                "claim_end": claim["end"], "claim_text": claim["text"], "cue": claim["cue"],
                "direct": claim["direct"], "status": claim["status"], "origin": claim["origin"],
                "credibility": claim["credibility"]}
        outlet = claim["outlet"] or {}
        yield {**base, "source_kind": "outlet", "source_name": outlet.get("name"),
               "source_reliability": outlet.get("reliability")}
        if claim["speaker"]:
            entity = claim["speaker_entity"] or {}
            yield {**base, "source_kind": "speaker", "source_name": claim["speaker"],
                   "source_reliability": entity.get("reliability"),
                   "source_start": claim["speaker_start"], "source_end": claim["speaker_end"]}
        for link in claim["links"]:
            yield {**base, "source_kind": "link", "source_name": link["other"]["title"],
                   "source_start": link["other"]["start"], "source_end": link["other"]["end"],
                   "relation": link["relation"], "direction": link["direction"],
                   "other_article_hash": link["other"]["article"],
                   "other_claim_text": link["other"]["text"],
                   "evidence_start": link["evidence"]["start"], "evidence_end": link["evidence"]["end"],
                   "evidence_text": link["evidence"]["text"], "linked_by": link["created_by"]}


# =============================================================================================
# Formats, by name: what the export command and the download page offer
# =============================================================================================

@dataclass(frozen=True)
class Format:
    name: str
    description: str
    suffix: str            # of the downloaded file
    content_type: str
    unit: str              # what one record is, for "Wrote 12 articles"
    approved_only: bool    # by default only approved articles: "approved annotations"


FORMATS = {format_.name: format_ for format_ in [
    Format("jsonl", "one line per article in the shape of the gold seeds.jsonl (text, spans, claims "
           "with status and links); `import_articles --confirmed` reads it back",
           ".jsonl", "application/jsonl", "articles", False),
    Format("jsonld", "one W3C Web Annotation JSON-LD document (an AnnotationCollection) of every "
           "mention and claim", ".jsonld", "application/ld+json", "annotations", False),
    Format("claims-jsonl", "one line per claim with its sources (speaker, article and outlet, links)",
           ".jsonl", "application/jsonl", "claims", False),
    Format("claims-csv", "one CSV row per claim and source", ".csv", "text/csv", "claim–source rows",
           False),
    Format("spacy", "spaCy DocBin (.spacy) for `spacy train`: one Doc per article, confirmed mentions "
           "as doc.ents, confirmed claims in doc.spans['claims']", ".zip", "application/zip",
           "articles", True),
    Format("prodigy", "Prodigy-style JSONL, one task per article: text, meta, tokens, spans of the "
           "confirmed mentions, claims", ".jsonl", "application/jsonl", "articles", True),
    Format("csv", "one CSV row per standing (suggested or confirmed) mention", ".csv", "text/csv",
           "mentions", True),
]}


def text_pieces(format_name: str, articles=None, *, base_url: str = "",
                misaligned: "list[Misaligned] | None" = None) -> Iterator[str]:
    """Every format but spacy as text, one piece per record (a CSV adds its header first, jsonld
    its opening and closing), so a caller that counts pieces counts records."""
    if format_name == "jsonl":
        return _json_lines(gold_shaped(articles))
    if format_name == "jsonld":
        return web_annotation_document(articles, base_url=base_url)
    if format_name == "claims-jsonl":
        return _json_lines(claims_with_sources(articles))
    if format_name == "claims-csv":
        return csv_lines(claim_source_rows(articles), CSV_COLUMNS)
    if format_name == "prodigy":
        return _json_lines(prodigy_tasks(articles, misaligned=misaligned))
    if format_name == "csv":
        return csv_lines(mention_rows(articles), MENTION_CSV_COLUMNS)
    raise ValueError(f"{format_name!r} is not a text format")


def _json_lines(items: Iterable[dict]) -> Iterator[str]:
    for item in items:
        yield json.dumps(item, ensure_ascii=False) + "\n"


def csv_lines(rows: Iterable[dict], columns: list[str]) -> Iterator[str]:
    """The header, then one CSV line (\\r\\n, as RFC 4180 says) per row, spreadsheet-safe."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writeheader()
    yield flush()
    for row in rows:
        writer.writerow({column: spreadsheet_safe(value) for column, value in row.items()})
        yield flush()


def spreadsheet_safe(value):
    """A cell a spreadsheet would run as a formula (=, +, -, @, a tab or a carriage return first)
    gets a leading apostrophe: quoted text from the news must never execute when the CSV opens."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# =============================================================================================
# spaCy and Prodigy: tokens of a blank English tokenizer
# =============================================================================================

CLAIMS_KEY = "claims"  # doc.spans[CLAIMS_KEY]
CLAIM_LABEL = "CLAIM"


@dataclass(frozen=True)
class Misaligned:
    """A confirmed span whose edges fall inside a token of the blank English tokenizer. It is
    widened to the tokens it touches ("expand"); `used` is the span exported instead, None when
    it was left out: it had no token of its own, or (an entity) it shares a token with the one
    before it."""

    text_hash: str
    kind: str  # "mention" or "claim"
    label: str
    start: int
    end: int
    text: str
    used: tuple[int, int] | None

    def __str__(self) -> str:
        where = f"{self.text_hash[:12]} {self.kind} {self.label} {self.start}-{self.end} {self.text!r}"
        if self.used is None:
            return f"{where}: left out (it shares a token with the entity before it, or covers none)"
        return f"{where}: widened to {self.used[0]}-{self.used[1]}"


def blank_nlp() -> Language:
    """The tokenizer of spacy.blank("en"), no pipeline: the web process never loads a model.
    A new one for each export, so its string store does not grow for the life of the process."""
    import spacy

    return spacy.blank("en")


def spacy_docs(articles=None, *, nlp: Language | None = None, chunk_size: int = 200,
               misaligned: list[Misaligned] | None = None) -> Iterator[Doc]:
    """One Doc per article: confirmed mentions as doc.ents (label = Label.name), confirmed claims
    in doc.spans["claims"] (label CLAIM), the article in doc.user_data. Tokens nobody judged are
    marked missing, not outside, so that training does not learn them as "no entity": undecided
    suggestions, and the boilerplate outside the body (never pre-tagged, never annotated).
    Spans that do not fall on token edges are widened and appended to `misaligned`."""
    nlp = nlp or blank_nlp()
    for article in _articles(articles, chunk_size, links=False):
        yield article_doc(article, nlp, misaligned=misaligned)


def article_doc(article: Article, nlp: Language, *, misaligned: list[Misaligned] | None = None) -> Doc:
    """One article as spacy_docs has it; its mentions and claims must be prefetched."""
    doc = nlp.make_doc(article.text)
    report = misaligned if misaligned is not None else []
    mentions = sorted(article.mentions.all(), key=lambda m: (m.start, m.end))
    confirmed = [m for m in mentions if m.status == Mention.Status.CONFIRMED]
    ents = _entities(doc, article, confirmed, report)
    taken = {i for ent in ents for i in range(ent.start, ent.end)}
    undecided = [doc.char_span(m.start, m.end, alignment_mode="expand")
                 for m in mentions if m.status == Mention.Status.SUGGESTED]
    boilerplate = [doc.char_span(0, article.body_start, alignment_mode="contract"),
                   doc.char_span(article.body_end, len(doc.text), alignment_mode="contract")]
    # set_ents refuses a token in two of its lists; an entity wins over "missing".
    missing = [span for span in undecided + boilerplate
               if span is not None and len(span) and not taken.intersection(range(span.start, span.end))]
    doc.set_ents(ents, missing=_disjoint(missing), default="outside")
    claims = [c for c in _sorted_claims(article) if c.status == Claim.Status.CONFIRMED]
    doc.spans[CLAIMS_KEY] = _claim_spans(doc, article, claims, report)
    doc.user_data.update({
        "text_hash": article.text_hash, "title": article.title, "url": article.url,
        "source": article.source.name if article.source else None,
        "published": article.published.isoformat() if article.published else None,
    })
    return doc


def _entities(doc: Doc, article: Article, mentions: list[Mention], report: list[Misaligned]) -> list[Span]:
    """The mentions as token spans, in order. Confirmed mentions never overlap, but a widened one
    may reach into the next one's token: the later one is left out, and reported."""
    ents: list[Span] = []
    for mention in mentions:
        span, widened = _aligned(doc, mention.start, mention.end, mention.label.name)
        if span is not None and ents and span.start < ents[-1].end:
            span, widened = None, True
        if widened:
            used = (span.start_char, span.end_char) if span is not None else None
            report.append(Misaligned(article.text_hash, "mention", mention.label.name, mention.start,
                                     mention.end, mention.text, used))
        if span is not None:
            ents.append(span)
    return ents


def _claim_spans(doc: Doc, article: Article, claims: list[Claim], report: list[Misaligned]) -> list[Span]:
    """The claims as token spans (a span group may overlap: nothing is left out for that)."""
    spans = []
    for claim in claims:
        span, widened = _aligned(doc, claim.start, claim.end, CLAIM_LABEL)
        if widened:
            used = (span.start_char, span.end_char) if span is not None else None
            report.append(Misaligned(article.text_hash, "claim", CLAIM_LABEL, claim.start, claim.end,
                                     claim.text, used))
        if span is not None:
            spans.append(span)
    return spans


def _aligned(doc: Doc, start: int, end: int, label: str) -> tuple[Span | None, bool]:
    """(span, widened): the span on token edges ("strict"); else widened to the tokens it touches
    ("expand"). None when not even that gives a token, e.g. only whitespace."""
    span = doc.char_span(start, end, label=label, alignment_mode="strict")
    if span is not None:
        return span, False
    span = doc.char_span(start, end, label=label, alignment_mode="expand")
    return (span if span is not None and len(span) else None), True


def _disjoint(spans: list[Span]) -> list[Span]:
    """Spans sorted, each overlapping none before it (two widened suggestions may share a token)."""
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        if not kept or span.start >= kept[-1].end:
            kept.append(span)
    return kept


def docbin_shards(docs: Iterable[Doc], *, shard_size: int | None = None) -> Iterator[DocBin]:
    """DocBins of `shard_size` docs each (all in one when None), at least one even when there are
    no docs. Only one shard is held in memory at a time."""
    from spacy.tokens import DocBin

    shard, yielded = DocBin(store_user_data=True), False
    for doc in docs:
        shard.add(doc)
        if shard_size is not None and len(shard) >= shard_size:
            yield shard
            shard, yielded = DocBin(store_user_data=True), True
    if len(shard) or not yielded:
        yield shard


def shard_name(number: int) -> str:
    """part-0001.spacy, …: names that sort in order, as `spacy train` reads a directory sorted."""
    return f"part-{number:04d}.spacy"


def spacy_zip(articles=None, *, shard_size: int = 1000, chunk_size: int = 200) -> Iterator[bytes]:
    """A zip of part-0001.spacy, … (unzipped, a directory `spacy train` reads), streamed: each
    shard goes out as soon as it is full. Spans widened to tokens are listed in misaligned.txt,
    which spaCy does not read (it takes only *.spacy files)."""
    misaligned: list[Misaligned] = []
    sink = _Sink()
    # A sink without seek(): zipfile then writes sizes after each member (data descriptors).
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED) as archive:
        docs = spacy_docs(articles, chunk_size=chunk_size, misaligned=misaligned)
        for number, shard in enumerate(docbin_shards(docs, shard_size=shard_size), start=1):
            # A DocBin is zlib-compressed already; storing it again compressed gains nothing.
            archive.writestr(shard_name(number), shard.to_bytes())
            yield sink.take()
        if misaligned:
            archive.writestr("misaligned.txt", "".join(f"{item}\n" for item in misaligned))
    yield sink.take()


class _Sink(io.RawIOBase):
    """A write-only file whose bytes are taken out as they come, for a streamed zip."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data, self._chunks = b"".join(self._chunks), []
        return data


def prodigy_tasks(articles=None, *, nlp: Language | None = None, chunk_size: int = 200,
                  misaligned: list[Misaligned] | None = None) -> Iterator[dict]:
    """One Prodigy-style task per article, accepted: text, meta, tokens ({text, start, end, id,
    ws}), spans of the confirmed mentions ({start, end, label, token_start, token_end}, the last
    token inclusive, as Prodigy has it) on the same tokens as the spacy export, and the confirmed
    claims. A span widened to token edges keeps its stored offsets in `stored_start`/`stored_end`."""
    nlp = nlp or blank_nlp()
    for article in _articles(articles, chunk_size, links=False):
        report: list[Misaligned] = []
        doc = article_doc(article, nlp, misaligned=report)
        if misaligned is not None:
            misaligned.extend(report)
        widened = {(item.used, item.label): item for item in report if item.kind == "mention" and item.used}
        spans = []
        for ent in doc.ents:
            span = {"start": ent.start_char, "end": ent.end_char, "label": ent.label_,
                    "token_start": ent.start, "token_end": ent.end - 1}
            if (item := widened.get(((ent.start_char, ent.end_char), ent.label_))) is not None:
                span.update(stored_start=item.start, stored_end=item.end)
            spans.append(span)
        input_hash = stable_hash(article.text)
        yield {
            "text": article.text,
            "meta": {"title": article.title, "url": article.url,
                     "source": article.source.name if article.source else None,
                     "published": article.published.isoformat() if article.published else None,
                     "text_hash": article.text_hash},
            "tokens": [{"text": token.text, "start": token.idx, "end": token.idx + len(token),
                        "id": token.i, "ws": bool(token.whitespace_)} for token in doc],
            "spans": spans,
            "claims": [{"start": claim.start, "end": claim.end, "text": claim.text,
                        "speaker": claim.speaker or None, "speaker_start": claim.speaker_start,
                        "speaker_end": claim.speaker_end, "cue": claim.cue or None,
                        "direct": claim.direct, "credibility": claim.credibility}
                       for claim in _sorted_claims(article) if claim.status == Claim.Status.CONFIRMED],
            "answer": "accept",
            "_input_hash": input_hash,
            "_task_hash": stable_hash(str(input_hash), json.dumps(spans, sort_keys=True)),
        }


def stable_hash(*parts: str) -> int:
    """A signed 32-bit int from sha256 of the parts. Ours, not Prodigy's murmurhash (Prodigy would
    give other numbers for the same task): the same on every run and machine, and in the range of
    Prodigy's own hashes, so its database takes it."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


# =============================================================================================
# Mentions as CSV
# =============================================================================================

MENTION_CSV_COLUMNS = [
    "article_id", "article_hash", "article_title", "source", "start", "end", "text", "label",
    "entity", "status", "origin", "decided_by", "decided_at",
]


def mention_rows(articles=None, *, chunk_size: int = 200) -> Iterator[dict]:
    """One flat row per standing mention (suggested or confirmed; rejected ones left out), in text
    order; columns MENTION_CSV_COLUMNS."""
    for article in _articles(articles, chunk_size, links=False):
        source = article.source.name if article.source else None
        for mention in sorted(article.mentions.all(), key=lambda m: (m.start, m.end)):
            if mention.status == Mention.Status.REJECTED:
                continue
            yield {"article_id": article.pk, "article_hash": article.text_hash,
                   "article_title": article.title, "source": source, "start": mention.start,
                   "end": mention.end, "text": mention.text, "label": mention.label.name,
                   "entity": mention.entity.name if mention.entity else None,
                   "status": mention.status, "origin": mention.origin,
                   "decided_by": _username(mention.decided_by), "decided_at": _iso(mention.decided_at)}
