"""The pre-tagger learns from every decision.

- Names and aliases of entities with a confirmed mention become patterns applied at pre-tagging
  time (new imports, re-tags of untouched articles), with the label the analysts gave them.
- What analysts keep rejecting (same text, same label) is no longer suggested.

Both are data an admin can see and edit (Entities, Suppressed suggestions in the admin).
"""

import hashlib
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, F, Max

from annotation.linking import normalise_name
from annotation.models import Entity, Mention, SuppressedSuggestion

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
    if status not in (Mention.Status.CONFIRMED, Mention.Status.REJECTED):
        return
    with transaction.atomic():
        row, _ = SuppressedSuggestion.objects.select_for_update().get_or_create(
            text=normalise_name(mention.text)[:300], label=mention.label)
        if status == Mention.Status.REJECTED:
            row.rejections = F("rejections") + 1
        else:
            row.confirmations = F("confirmations") + 1
        row.save(update_fields=["rejections", "confirmations", "updated_at"])
        row.refresh_from_db(fields=["rejections", "confirmations"])
        if not row.pinned:
            active = row.rejections >= SuppressedSuggestion.REJECTIONS and not row.confirmations
            if active != row.active:
                row.active = active
                row.save(update_fields=["active", "updated_at"])


def summary() -> dict:
    """Figures for the admin and the README: how much has been learnt."""
    return {
        "patterns": len(knowledge().patterns),
        "suppressed": SuppressedSuggestion.objects.filter(active=True).count(),
        "entities": Entity.objects.aggregate(n=Count("pk"), last=Max("updated_at")),
    }
