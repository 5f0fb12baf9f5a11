"""Linking confirmed mentions to canonical entities.

Every confirmed ACTOR, GROUP and PLACE mention links to an Entity. The link is found by rules that
hold for any news text, tried in order:

1. the same name, or a known alias, of an entity with the same label;
2. a surname (or any shorter tail) of a full ACTOR name in the same article ("Essid" → "Habib
   Essid");
3. an acronym spelled out in the same article ("GNA" ↔ "Government of National Accord");
4. a spelling variant of a known name (PostgreSQL trigram similarity: "Ben Gardane" /
   "Ben Guerdane");
5. otherwise a new entity named after the mention.

Rule 1 and a new entity are links as good as the analyst's own; the others are suggestions the
analyst accepts, changes or clears. Every change records an Event.
"""

import re
import unicodedata
from contextvars import ContextVar
from dataclasses import dataclass

from django.contrib.postgres.search import TrigramSimilarity
from django.db import transaction

from annotation.models import Entity, Event, Mention
from config import rows
from config.rows import Columns

LINKED_LABELS = ("ACTOR", "GROUP", "PLACE")
SIMILARITY = 0.5
# Words an acronym skips when it is spelled out ("Government of National Accord" → GNA).
_SKIPPED = {"of", "the", "and", "for", "in", "on", "de", "du", "des", "la", "le", "al", "el", "&"}
_ACRONYM = re.compile(r"^[A-Z][A-Z.&]{1,9}$")
_SPACE = re.compile(r"\s+")


def normalise_name(text: str) -> str:
    """The form two spellings of one name share: NFKC, case-folded, without a leading "the",
    a possessive, quotes, end punctuation or a hashtag sign, underscores as spaces."""
    text = unicodedata.normalize("NFKC", text).replace("’", "'").replace("_", " ")
    text = text.strip().lstrip("#@").rstrip(".,;:!?")
    text = re.sub(r"'s?$", "", text).strip(" \"'“”«»")
    text = re.sub(r"^(the|l')\s+", "", text, flags=re.IGNORECASE)
    return _SPACE.sub(" ", text).casefold()


@dataclass(frozen=True)
class Suggestion:
    entity: Entity | None  # None: a new entity, named `name`
    reason: str
    certain: bool  # as good as the analyst's own link
    name: str = ""


def suggest(mention: Mention, *, article_mentions: list[Mention] | None = None) -> Suggestion:
    """The entity this mention most likely refers to, and why."""
    label = mention.label
    name = normalise_name(mention.text)
    known = _by_name(name, label)
    if known is not None:
        reason = "same name" if normalise_name(known.name) == name else f"known alias of {known.name}"
        return Suggestion(known, reason, certain=True)
    others = article_mentions if article_mentions is not None else list(
        mention.article.mentions.live().select_related("entity", "label").exclude(pk=mention.pk))
    others = [m for m in others if m.pk != mention.pk and m.label_id == mention.label_id]
    if label.name == "ACTOR":
        full = _full_name_for(name, others)
        if full is not None:
            return _towards(full, f"surname of {full.text}")
    partner = _acronym_partner(mention.text, others)
    if partner is not None:
        return _towards(partner, f"acronym of {partner.text}" if _is_acronym(mention.text)
                        else f"spelled out as {partner.text}")
    variant = _variant(name, label)
    if variant is not None:
        return Suggestion(variant, f"spelling variant of {variant.name}", certain=False)
    return Suggestion(None, "new entity", certain=True, name=mention.text)


def link_many(mentions: list[Mention], *, by, article_mentions: list[Mention]) -> None:
    """Link many newly confirmed mentions of one article (confirm all), in a constant number of
    queries for the names the corpus already knows: every name is looked up at once, and the
    links and their Events are written at once. A name no entity has yet costs a spelling
    lookup and, if that finds nothing, the new entity."""
    todo = [m for m in mentions if m.label.name in LINKED_LABELS and m.status == Mention.Status.CONFIRMED
            and not (m.entity_id and m.entity.label_id == m.label_id
                     and (normalise_name(m.text) in m.entity.keys or not _by_name_only(m)))]
    if not todo:
        return
    wanted = {(m.label_id, normalise_name(m.text)) for m in [*todo, *article_mentions]}
    known: dict[tuple[int, str], Entity | None] = dict.fromkeys(wanted)
    for entity in (Entity.objects.filter(label_id__in={label for label, _ in wanted},
                                         keys__overlap=sorted({key for _, key in wanted}))
                   .order_by("-pk")):  # the oldest entity of a name last, so it wins
        for key in entity.keys:
            if (entity.label_id, key) in known:
                known[(entity.label_id, key)] = entity
    token = _known_names.set(known)
    events = []
    try:
        for mention in todo:
            suggestion = suggest(mention, article_mentions=article_mentions)
            entity = suggestion.entity or _new_entity(suggestion.name, mention.label, by=by)
            events.append(_link_in_memory(mention, entity, accepted=suggestion.certain,
                                          reason=suggestion.reason, by=by))
    finally:
        _known_names.reset(token)
    Mention.objects.bulk_update(todo, ["entity", "entity_accepted", "link_reason"])
    Event.objects.bulk_create(events)


def _towards(other: Mention, reason: str) -> Suggestion:
    """Link to the entity another mention of the article has, or would have."""
    entity = other.entity or _by_name(normalise_name(other.text), other.label)
    return Suggestion(entity, reason, certain=False, name=other.text)


def link(mention: Mention, *, by, article_mentions: list[Mention] | None = None) -> None:
    """Link a newly confirmed mention (called by annotation.decisions in its transaction)."""
    if (event := link_unsaved(mention, by=by, article_mentions=article_mentions)) is not None:
        mention.save(update_fields=["entity", "entity_accepted", "link_reason"])
        event.save()


def link_unsaved(mention: Mention, *, by, article_mentions: list[Mention] | None = None
                 ) -> Event | None:
    """As `link`, but the link is only set on the mention, and its Event returned, both for the
    caller to save with the decision's own (one UPDATE, one INSERT); None if nothing changes."""
    if mention.label.name not in LINKED_LABELS or mention.status != Mention.Status.CONFIRMED:
        return None
    if (mention.entity_id and mention.entity.label_id == mention.label_id
            and (normalise_name(mention.text) in mention.entity.keys or not _by_name_only(mention))):
        return None  # already linked, and still right (a resized span is linked again by its name)
    suggestion = suggest(mention, article_mentions=article_mentions)
    entity = suggestion.entity or _new_entity(suggestion.name, mention.label, by=by)
    return _link_in_memory(mention, entity, accepted=suggestion.certain, reason=suggestion.reason,
                           by=by)


def accept(mention: Mention, *, by) -> None:
    """The analyst agrees with the suggested link: the name becomes an alias the pre-tagger and
    rule 1 will know."""
    with transaction.atomic():
        if mention.entity is None:
            return
        _add_alias(mention.entity, mention.text)
        _set_link(mention, mention.entity, accepted=True, reason=mention.link_reason, by=by)


def change(mention: Mention, name: str, *, by) -> Entity:
    """Link to the entity of this name (with the mention's label), created if there is none."""
    with transaction.atomic():
        entity = _by_name(normalise_name(name), mention.label) or _new_entity(name, mention.label, by=by)
        _add_alias(entity, mention.text)
        _set_link(mention, entity, accepted=True, reason="chosen by the analyst", by=by)
    return entity


def _add_alias(entity: Entity, name: str) -> None:
    name = name.strip().lstrip("#").replace("_", " ")
    if normalise_name(name) not in entity.keys:
        entity.aliases = [*entity.aliases, name]
        entity.save(update_fields=["aliases", "updated_at"])


def clear(mention: Mention, *, by) -> None:
    with transaction.atomic():
        _set_link(mention, None, accepted=True, reason="cleared by the analyst", by=by)


def rename(entity: Entity, name: str, *, by) -> Entity:
    """A new canonical name; the old one stays as an alias."""
    name = name.strip()
    with transaction.atomic():
        before = {"name": entity.name, "aliases": entity.aliases}
        if normalise_name(name) != normalise_name(entity.name):
            entity.aliases = [alias for alias in entity.aliases
                              if normalise_name(alias) != normalise_name(name)] + [entity.name]
        entity.name = name
        entity.save()
        Event.record("entity.rename", entity, article=None, actor=by, before=before,
                     after={"name": entity.name, "aliases": entity.aliases})
    return entity


def merge(source: Entity, target: Entity, *, by) -> Entity:
    """Fold `source` into `target`: its mentions, its name and aliases; `source` is deleted."""
    if source.pk == target.pk:
        raise ValueError("An entity cannot be merged into itself.")
    if source.label_id != target.label_id:
        raise ValueError(f"{source.name} is a {source.label} and {target.name} a {target.label}: "
                         "relabel first, then merge.")
    with transaction.atomic():
        known = {normalise_name(n) for n in target.names}
        target.aliases = [*target.aliases, *(n for n in source.names if normalise_name(n) not in known)]
        target.save(update_fields=["aliases", "updated_at"])
        moved = Mention.objects.filter(entity=source).update(entity=target)
        Event.record("entity.merge", target, article=None, actor=by,
                     before={"merged": source.pk, "name": source.name, "aliases": source.aliases},
                     after={"name": target.name, "aliases": target.aliases, "mentions": moved})
        source.delete()
    return target


def _set_link(mention: Mention, entity: Entity | None, *, accepted: bool, reason: str, by) -> None:
    event = _link_in_memory(mention, entity, accepted=accepted, reason=reason, by=by)
    mention.save(update_fields=["entity", "entity_accepted", "link_reason"])
    event.save()


def _link_in_memory(mention: Mention, entity: Entity | None, *, accepted: bool, reason: str,
                    by) -> Event:
    """Set the link on the mention; returns its Event, both still to be saved."""
    before = {"entity": mention.entity_id, "accepted": mention.entity_accepted}
    mention.entity = entity
    mention.entity_accepted = accepted
    mention.link_reason = reason[:200]
    return Event(action="mention.link", subject_type="mention", subject_id=mention.pk,
                 article=mention.article, actor=by, before=before,
                 after={"entity": mention.entity_id, "accepted": accepted, "reason": reason})


def _by_name_only(mention: Mention) -> bool:
    """Was the link made because of the mention's own words (rather than a rule or the analyst)?"""
    return mention.link_reason in ("same name", "new entity") or mention.link_reason.startswith(
        "known alias of")


def _new_entity(name: str, label, *, by) -> Entity:
    name = name.strip().lstrip("#").rstrip(".,;:!?").replace("_", " ")
    entity = _by_name(normalise_name(name), label) or Entity.objects.create(
        label=label, name=name, created_by=by)
    if (known := _known_names.get()) is not None:
        known.update({(label.pk, key): entity for key in entity.keys})
    return entity


# While `link_many` runs: (label id, normalised name) → the entity of that name, or None when
# there is none; the names it did not look up are read from the database.
_known_names: ContextVar[dict | None] = ContextVar("linking_known_names", default=None)


def _by_name(normalised: str, label) -> Entity | None:
    """The entity with this name or alias (compared normalised, through an indexed array)."""
    known = _known_names.get()
    if known is not None and (label.pk, normalised) in known:
        return known[(label.pk, normalised)]
    # Plain SQL (config/rows.py): most decisions on a name ask this.
    with rows.cursor() as cursor:
        cursor.execute(f"""SELECT {_ENTITY.sql} FROM {Entity._meta.db_table} e
                           WHERE e.label_id = %s AND e.keys @> ARRAY[%s]::varchar(300)[]
                           ORDER BY e.id LIMIT 1""", [label.pk, normalised])
        row = cursor.fetchone()
    return _ENTITY.make(row) if row else None


_ENTITY = Columns(Entity, "e")


def _full_name_for(name: str, others: list[Mention]) -> Mention | None:
    words = name.split()
    for other in others:
        other_words = normalise_name(other.text).split()
        if len(other_words) > len(words) and other_words[-len(words):] == words:
            return other
    return None


def _is_acronym(text: str) -> bool:
    return bool(_ACRONYM.match(text.strip()))


def _initials(text: str) -> str:
    words = [w for w in re.split(r"[\s\-]+", text) if w and w.lower() not in _SKIPPED]
    return "".join(w[0] for w in words).upper()


def _acronym_partner(text: str, others: list[Mention]) -> Mention | None:
    if _is_acronym(text):
        letters = text.replace(".", "").replace("&", "").upper()
        return next((o for o in others if not _is_acronym(o.text) and len(o.text.split()) > 1
                     and _initials(o.text) == letters), None)
    initials = _initials(text)
    if len(text.split()) > 1 and len(initials) > 1:
        return next((o for o in others if _is_acronym(o.text)
                     and o.text.replace(".", "").upper() == initials), None)
    return None


def _variant(name: str, label) -> Entity | None:
    return (Entity.objects.filter(label=label)
            .annotate(similarity=TrigramSimilarity("name", name))
            .filter(similarity__gte=SIMILARITY).order_by("-similarity").first())

