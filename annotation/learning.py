"""The pre-tagger learns from every decision.

- Names and aliases of entities with a confirmed mention become patterns applied at pre-tagging
  time (new imports, re-tags of untouched articles), with the label the analysts gave them.
- What analysts keep rejecting (same text, same label) is no longer suggested.

Both are data an admin can see and edit (Entities, Suppressed suggestions in the admin).
"""

import hashlib
from collections import Counter
from dataclasses import dataclass

from django.db.models import Count, Max
from django.utils import timezone

from annotation.linking import normalise_name
from annotation.models import Entity, Mention, SuppressedSuggestion
from config import rows

MIN_PATTERN_LENGTH = 2


@dataclass(frozen=True)
class Knowledge:
    patterns: list[dict]  # entity_ruler patterns: {"label", "pattern", "id"}
    suppressed: frozenset[tuple[str, str]]  # (normalised text, label name)
    fingerprint: str  # changes whenever either does


def knowledge() -> Knowledge:
    entities = (Entity.objects.filter(mentions__status=Mention.Status.CONFIRMED).distinct()
                .values_list("pk", "name", "aliases", "label__name"))
    patterns = [{"label": label, "pattern": name, "id": f"entity-{pk}"}
                for pk, canonical, aliases, label in entities
                for name in {canonical, *aliases} if len(name.strip()) >= MIN_PATTERN_LENGTH]
    suppressed = frozenset(SuppressedSuggestion.objects.filter(active=True)
                           .values_list("text", "label__name"))
    digest = hashlib.sha256(repr((sorted((p["pattern"], p["label"]) for p in patterns),
                                  sorted(suppressed))).encode()).hexdigest()
    return Knowledge(patterns, suppressed, digest)


def without_suppressed(found: list, knowledge: Knowledge) -> list:
    """Drop what analysts keep rejecting (same normalised text, same label)."""
    if not knowledge.suppressed:
        return found
    return [entity for entity in found
            if (normalise_name(entity.text), entity.label) not in knowledge.suppressed]


def record(mention: Mention, status: str) -> None:
    """Count a confirmation or a rejection of this text with this label."""
    record_many([mention], status)


def record_many(mentions: list[Mention], status: str) -> None:
    """Count a confirmation or a rejection of each mention's text with its label, all in one
    statement: a pair is suppressed once rejected `SuppressedSuggestion.REJECTIONS` times and
    never confirmed, unless an admin pinned it."""
    rows.write(counted(mentions, status))


def counted(mentions: list[Mention], status: str) -> rows.Statement | None:
    """The statement of `record_many` (for rows.write with others), or None if it counts
    nothing."""
    if status not in (Mention.Status.CONFIRMED, Mention.Status.REJECTED) or not mentions:
        return None
    rejected = status == Mention.Status.REJECTED
    pairs = Counter((normalise_name(m.text)[:300], m.label_id) for m in mentions)
    tallies = [(text, label, n if rejected else 0, 0 if rejected else n,
                rejected and n >= SuppressedSuggestion.REJECTIONS)
               for (text, label), n in sorted(pairs.items())]
    table = SuppressedSuggestion._meta.db_table
    return (f"""INSERT INTO {table} AS s (text, label_id, rejections, confirmations, active, pinned,
                                         updated_at)
                SELECT text, label_id, rejections, confirmations, active, false, %s
                FROM unnest(%s::text[], %s::bigint[], %s::int[], %s::int[], %s::boolean[])
                     AS new (text, label_id, rejections, confirmations, active)
                ON CONFLICT (text, label_id) DO UPDATE SET
                    rejections = s.rejections + excluded.rejections,
                    confirmations = s.confirmations + excluded.confirmations,
                    active = CASE WHEN s.pinned THEN s.active
                                  ELSE s.rejections + excluded.rejections >= %s
                                       AND s.confirmations + excluded.confirmations = 0 END,
                    updated_at = excluded.updated_at""",
            [timezone.now(), *([tally[i] for tally in tallies] for i in range(5)),
             SuppressedSuggestion.REJECTIONS])


def summary() -> dict:
    """Figures for the admin and the README: how much has been learnt."""
    return {
        "patterns": len(knowledge().patterns),
        "suppressed": SuppressedSuggestion.objects.filter(active=True).count(),
        "entities": Entity.objects.aggregate(n=Count("pk"), last=Max("updated_at")),
    }
