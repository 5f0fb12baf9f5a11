"""Claims and the links between them, read back from a gold-shaped file
(`import_articles --confirmed`, e.g. what `export_annotations --format jsonl` writes).

Each row's `claims` (start, end, optional text checked against the offsets, speaker as written,
speaker_start, speaker_end, cue, direct, status, origin, credibility; the gold seeds' claims
without a status are confirmed analyst claims) and each claim's `links` (relation, the other
claim as {"article": text_hash, "start", "end"}, evidence_start/evidence_end in the other
claim's article, created_by as a username).

Three steps, called by corpus.importing:
    parse_claims  (per row, no database): the claims make sense against the row's text
    check_rows    (before anything is stored): claims do not overlap standing claims already
                  stored; every link's other claim is in the file or the database and its
                  evidence lies inside that claim's article. A bad row gets an error and is
                  stored not at all; a row whose links named a failed row's claims fails too
    store_claims  (in the import's transaction): the claims not already stored (same article and
                  span), the speaker's mention, the links not already stored (either direction)

Articles are matched by text_hash, claims by (text_hash, start, end): importing the same file
again stores nothing new.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import F
from django.db.models.functions import Length
from django.utils.dateparse import parse_datetime

from annotation.models import Claim, ClaimLink, Credibility, Event, Mention
from corpus import text as article_text
from corpus.models import Article

Key = tuple[str, int, int]  # (article text_hash, start, end)


@dataclass
class RowLink:
    relation: str
    other: Key
    evidence_start: int
    evidence_end: int
    created_by: str | None


@dataclass
class RowClaim:
    start: int
    end: int
    speaker: str = ""
    speaker_start: int | None = None
    speaker_end: int | None = None
    cue: str = ""
    direct: bool = False
    status: str = Claim.Status.CONFIRMED
    origin: str = Claim.Origin.ANALYST
    credibility: int | None = None
    decided_by: str | None = None
    decided_at: datetime.datetime | None = None
    graded_by: str | None = None
    graded_at: datetime.datetime | None = None
    links: list[RowLink] = field(default_factory=list)

    @property
    def standing(self) -> bool:
        return self.status != Claim.Status.REJECTED


class _Bad(Exception):
    pass


def parse_claims(text: str, claims) -> tuple[list[RowClaim], str]:
    """The row's claims checked against its text; (claims, "") or ([], the first error)."""
    if claims is None:
        return [], ""
    if not isinstance(claims, list):
        return [], '"claims" must be a list'
    parsed = []
    for number, data in enumerate(claims, start=1):
        try:
            parsed.append(_parse_claim(text, data))
        except _Bad as error:
            return [], f"claim {number}: {error}"
    standing = sorted((c.start, c.end) for c in parsed if c.standing)
    for (start_a, end_a), (start_b, end_b) in zip(standing, standing[1:]):
        if start_b < end_a:
            return [], f"claims {start_a}–{end_a} and {start_b}–{end_b} overlap"
    return parsed, ""


def _int(data: dict, name: str, *, optional: bool = False) -> int | None:
    value = data.get(name)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(f'"{name}" must be an integer')
    return value


def _string(data: dict, name: str, max_length: int) -> str:
    value = data.get(name) or ""
    if not isinstance(value, str):
        raise _Bad(f'"{name}" must be a string')
    if len(value) > max_length:
        raise _Bad(f'"{name}" is longer than {max_length} characters')
    return value.strip()


def _choice(data: dict, name: str, choices, default: str) -> str:
    value = data.get(name) or default
    if value not in choices.values:
        raise _Bad(f'"{name}" must be one of {", ".join(choices.values)}, not {value!r}')
    return value


def _moment(data: dict, name: str) -> datetime.datetime | None:
    value = data.get(name)
    if not value:
        return None
    moment = parse_datetime(value) if isinstance(value, str) else None
    if moment is None:
        raise _Bad(f'"{name}" is not a date and time (ISO 8601): {value!r}')
    return moment


def _username(data: dict, name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise _Bad(f'"{name}" must be a username')
    return value or None


def _parse_claim(text: str, data) -> RowClaim:
    if not isinstance(data, dict):
        raise _Bad("must be a JSON object")
    start, end = _int(data, "start"), _int(data, "end")
    if not 0 <= start < end <= len(text):
        raise _Bad(f"{start}–{end} lies outside the text (0–{len(text)})")
    if "text" in data and data["text"] != text[start:end]:
        raise _Bad(f'"text" says {str(data["text"])[:60]!r} but the offsets hold {text[start:end][:60]!r}')
    speaker_start = _int(data, "speaker_start", optional=True)
    speaker_end = _int(data, "speaker_end", optional=True)
    if (speaker_start is None) != (speaker_end is None):
        raise _Bad('"speaker_start" and "speaker_end" go together')
    if speaker_start is not None and not 0 <= speaker_start < speaker_end <= len(text):
        raise _Bad(f"the speaker's place {speaker_start}–{speaker_end} lies outside the text")
    speaker = _string(data, "speaker", 300)
    if speaker_start is not None and not speaker:
        raise _Bad('a speaker\'s place without a "speaker"')
    direct = data.get("direct", False)
    if not isinstance(direct, bool):
        raise _Bad('"direct" must be true or false')
    credibility = _int(data, "credibility", optional=True)
    if credibility is not None and credibility not in Credibility.values:
        raise _Bad(f'"credibility" must be 1 to 6, not {credibility}')
    links = data.get("links") or []
    if not isinstance(links, list):
        raise _Bad('"links" must be a list')
    claim = RowClaim(
        start=start, end=end, speaker=speaker, speaker_start=speaker_start, speaker_end=speaker_end,
        cue=_string(data, "cue", 50), direct=direct,
        status=_choice(data, "status", Claim.Status, Claim.Status.CONFIRMED),
        origin=_choice(data, "origin", Claim.Origin, Claim.Origin.ANALYST), credibility=credibility,
        decided_by=_username(data, "decided_by"), decided_at=_moment(data, "decided_at"),
        graded_by=_username(data, "graded_by"), graded_at=_moment(data, "graded_at"))
    for number, link in enumerate(links, start=1):
        try:
            claim.links.append(_parse_link(link))
        except _Bad as error:
            raise _Bad(f"link {number}: {error}") from None
    return claim


def _parse_link(data) -> RowLink:
    if not isinstance(data, dict):
        raise _Bad("must be a JSON object")
    other = data.get("other")
    if not isinstance(other, dict) or not isinstance(other.get("article"), str):
        raise _Bad('"other" must be {"article": text_hash, "start": …, "end": …}')
    evidence_start, evidence_end = _int(data, "evidence_start"), _int(data, "evidence_end")
    if not 0 <= evidence_start < evidence_end:
        raise _Bad(f"the evidence {evidence_start}–{evidence_end} is empty")
    return RowLink(relation=_choice(data, "relation", ClaimLink.Relation, ""),
                   other=(other["article"], _int(other, "start"), _int(other, "end")),
                   evidence_start=evidence_start, evidence_end=evidence_end,
                   created_by=_username(data, "created_by"))


# =============================================================================================
# Against the database and the rest of the file
# =============================================================================================

def _owners(rows) -> dict[str, object]:
    """text_hash → the first good row with that text (later copies are duplicates)."""
    owners = {}
    for row in rows:
        if not row.error:
            owners.setdefault(article_text.text_hash(row.text), row)
    return owners


def check_rows(rows) -> list[dict]:
    """Mark the rows whose claims or links cannot be stored; returns their errors
    ({"file", "row", "error"}) for the batch."""
    owners = {text_hash: row for text_hash, row in _owners(rows).items() if row.claims}
    if not owners:
        return []
    hashes = set(owners) | {link.other[0] for row in owners.values() for claim in row.claims
                            for link in claim.links}
    lengths = {text_hash: len(row.text) for text_hash, row in owners.items()}
    stored: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for text_hash, length in (Article.objects.filter(text_hash__in=hashes)
                              .annotate(length=Length("text")).values_list("text_hash", "length")):
        lengths[text_hash] = length
    # A text stored already that differs from the row's in spaces or quotes only (same hash):
    # the row's offsets do not fit it.
    differing = set(Article.objects.filter(text_hash__in=owners).exclude(
        text__in=[row.text for row in owners.values()]).values_list("text_hash", flat=True))
    for text_hash, start, end, status in Claim.objects.filter(article__text_hash__in=hashes).values_list(
            "article__text_hash", "start", "end", "status"):
        stored[text_hash].append((start, end, status))

    errors: dict[int, str] = {}
    for text_hash, row in owners.items():
        if text_hash in differing:
            errors[id(row)] = ("this article is stored already with a text that differs in spaces "
                               "or quotes: the claims' offsets do not fit it")
        elif error := _overlaps_stored(row.claims, stored[text_hash]):
            errors[id(row)] = error
    while True:
        available = {(text_hash, start, end) for text_hash, spans in stored.items()
                     for start, end, _ in spans}
        available |= {(text_hash, claim.start, claim.end) for text_hash, row in owners.items()
                      if id(row) not in errors for claim in row.claims}
        failed = {}
        for text_hash, row in owners.items():
            if id(row) not in errors and (error := _bad_link(text_hash, row.claims, available, lengths)):
                failed[id(row)] = error
        if not failed:
            break
        errors.update(failed)
    bad = []
    for row in owners.values():
        if id(row) in errors:
            row.error = errors[id(row)]
            bad.append({"file": row.file, "row": row.number, "error": row.error})
    return bad


def _overlaps_stored(claims: list[RowClaim], stored: list[tuple[int, int, str]]) -> str:
    spans = {(start, end) for start, end, _ in stored}
    standing = [(start, end) for start, end, status in stored if status != Claim.Status.REJECTED]
    for claim in claims:
        if (claim.start, claim.end) in spans or not claim.standing:
            continue
        for start, end in standing:
            if claim.start < end and start < claim.end:
                return (f"claim {claim.start}–{claim.end} overlaps the claim {start}–{end} "
                        "already stored for this article")
    return ""


def _bad_link(text_hash: str, claims: list[RowClaim], available: set[Key], lengths: dict) -> str:
    for claim in claims:
        for link in claim.links:
            other_hash, start, end = link.other
            where = (f"claim {claim.start}–{claim.end}: its link to {start}–{end} of article "
                     f"{other_hash[:12]}…")
            if link.other == (text_hash, claim.start, claim.end):
                return f"claim {claim.start}–{claim.end} is linked to itself"
            if link.other not in available:
                return f"{where}: no such claim in this file or the database"
            if link.evidence_end > lengths[other_hash]:
                return (f"{where}: the evidence {link.evidence_start}–{link.evidence_end} lies "
                        f"outside that article's text (0–{lengths[other_hash]})")
    return ""


# =============================================================================================
# Storing
# =============================================================================================

def store_claims(rows, *, by=None) -> tuple[int, int]:
    """Store the good rows' claims and links that are not stored yet; (claims, links) stored.
    Call inside the import's transaction, once the rows' articles and mentions are stored."""
    owners = {text_hash: row for text_hash, row in _owners(rows).items() if row.claims}
    if not owners:
        return 0, 0
    articles = {article.text_hash: article for article in Article.objects.filter(text_hash__in=owners)}
    users = _users(owners.values())
    stored = {(text_hash, start, end) for text_hash, start, end in Claim.objects.filter(
        article__text_hash__in=owners).values_list("article__text_hash", "start", "end")}
    speakers = _speaker_mentions(articles.values())
    new, counts = [], defaultdict(int)
    for text_hash, row in owners.items():
        article = articles[text_hash]
        for c in row.claims:
            if (text_hash, c.start, c.end) in stored:
                continue
            new.append(Claim(
                article=article, start=c.start, end=c.end, text=article.text[c.start:c.end],
                speaker=c.speaker, speaker_start=c.speaker_start, speaker_end=c.speaker_end,
                speaker_mention=speakers.get((article.pk, c.speaker_start, c.speaker_end)),
                cue=c.cue, direct=c.direct, status=c.status, origin=c.origin,
                decided_by=users.get(c.decided_by), decided_at=c.decided_at,
                credibility=c.credibility, graded_by=users.get(c.graded_by), graded_at=c.graded_at))
            counts[text_hash] += 1
    Claim.objects.bulk_create(new)
    links = _store_links(owners, users)
    for text_hash, row in owners.items():
        if counts[text_hash] or links[text_hash]:
            Event.record("article.import_claims", articles[text_hash], article=articles[text_hash],
                         actor=by, after={"claims": counts[text_hash], "links": links[text_hash]})
    return len(new), sum(links.values())


def _users(rows) -> dict:
    names = {name for row in rows for c in row.claims
             for name in (c.decided_by, c.graded_by, *(link.created_by for link in c.links)) if name}
    User = get_user_model()
    return {user.get_username(): user
            for user in User.objects.filter(**{f"{User.USERNAME_FIELD}__in": names})}


def _speaker_mentions(articles) -> dict:
    """(article id, start, end) → the standing mention there, to link a speaker to its entity."""
    return {(m.article_id, m.start, m.end): m
            for m in Mention.objects.live().filter(article__in=list(articles))}


def _store_links(owners: dict, users: dict) -> dict[str, int]:
    """The rows' links not yet stored (a link reads both ways); text_hash → links stored."""
    hashes = set(owners) | {link.other[0] for row in owners.values() for c in row.claims for link in c.links}
    claims: dict[Key, Claim] = {}
    for claim in _claims_with_hash(hashes):
        key = (claim.text_hash, claim.start, claim.end)
        # Two claims on one span (a rejected one under a standing one): the standing one counts.
        if key not in claims or (claims[key].status == Claim.Status.REJECTED
                                 and claim.status != Claim.Status.REJECTED):
            claims[key] = claim
    pairs = set()
    for claim_id, other_id in ClaimLink.objects.filter(
            claim__in=[c.pk for c in claims.values()]).values_list("claim_id", "other_id"):
        pairs |= {(claim_id, other_id), (other_id, claim_id)}
    new, counts = [], defaultdict(int)
    for text_hash, row in owners.items():
        for c in row.claims:
            for link in c.links:
                claim, other = claims[(text_hash, c.start, c.end)], claims[link.other]
                if (claim.pk, other.pk) in pairs:
                    continue
                pairs |= {(claim.pk, other.pk), (other.pk, claim.pk)}
                new.append(ClaimLink(claim=claim, other=other, relation=link.relation,
                                     evidence_start=link.evidence_start,
                                     evidence_end=link.evidence_end,
                                     created_by=users.get(link.created_by)))
                counts[text_hash] += 1
    ClaimLink.objects.bulk_create(new)
    return counts


def _claims_with_hash(hashes: set[str]):
    return (Claim.objects.filter(article__text_hash__in=hashes)
            .annotate(text_hash=F("article__text_hash")).only("pk", "start", "end", "status")
            .order_by("pk"))
