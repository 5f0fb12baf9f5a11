"""Annotations out of the database.

Three shapes, all streamed (articles read in chunks with their mentions, claims and links
prefetched: a constant number of queries per chunk, however many claims an article has):

    gold_shaped        one dict per article in the shape of ../shared/gold/seeds.jsonl (text, spans,
                       claims), each span and claim with its status; each claim with its links to
                       other articles' claims. `import_articles --confirmed` reads it back.
    web_annotations    W3C Web Annotation (JSON-LD) of every mention and claim;
                       `web_annotation_document` wraps them in one AnnotationCollection.
    claims_with_sources / claim_source_rows
                       one dict per claim with its sources (speaker, article and outlet, linked
                       claims) / one flat row per claim–source pair, for JSONL and CSV.

Articles are named across databases by `text_hash` (sha256 of the normalised text), never by
primary key: a link names the other claim as (article text_hash, start, end).
"""

import json
from collections.abc import Iterator
from urllib.parse import quote

from django.db.models import F, Prefetch
from django.db.models.functions import Substr
from django.utils import timezone

from annotation.models import Claim, ClaimLink, Credibility, Mention
from corpus.models import Article

ANNO_CONTEXT = "http://www.w3.org/ns/anno.jsonld"
LDP_CONTEXT = "http://www.w3.org/ns/ldp.jsonld"
QUOTE_CONTEXT = 32  # characters of prefix and suffix in a TextQuoteSelector


def _articles(articles, chunk_size: int) -> Iterator[Article]:
    """The articles in pk order, each with mentions, claims and both ends of the claims' links."""
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
    claims = Prefetch("claims", queryset=Claim.objects.select_related(
        "speaker_mention__entity__label", "graded_by", "decided_by").prefetch_related(links_out, links_in))
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
