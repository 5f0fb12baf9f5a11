"""An analyst's decisions on mentions.

Each decision checks the version of the mention it was based on, changes the mention, moves the
article along its workflow and records an Event (who, when, before, after), all in one
transaction. Views call these functions and render what changed; nothing else writes mentions.
"""

import contextlib
import uuid

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from annotation import layers, learning, linking
from annotation.models import Claim, Entity, Event, Label, Mention
from config import rows
from config.rows import Columns, split
from corpus import text as article_text
from corpus.models import Article

# Actions an analyst can take back with "undo", newest first.
UNDOABLE = ("mention.confirm", "mention.reject", "mention.relabel", "mention.resize",
            "mention.add", "mention.delete")
# With the decisions on claims and their links (annotation.claim_decisions).
ALL_UNDOABLE = UNDOABLE + ("claim.confirm", "claim.reject", "claim.resize", "claim.span",
                           "claim.speaker", "claim.cue", "claim.add", "claim.delete",
                           "claim.link", "claim.unlink")
UNDO_ACTIONS = ("mention.undo", "claim.undo")


class Refused(Exception):
    """The decision cannot be taken as asked. `current` is the mention as it stands, if any."""

    def __init__(self, message: str, current: Mention | None = None):
        super().__init__(message)
        self.current = current


class Overlap(Refused):
    pass


class StaleVersion(Refused):
    """The mention changed since the analyst saw it."""

    def __init__(self, current: Mention):
        by = f" by {current.decided_by}" if current.decided_by_id else ""
        super().__init__(f"“{current.text}” was changed{by} meanwhile: it is now "
                         f"{current.get_status_display().lower()} as {current.label.name}. "
                         "Nothing was changed.", current)


def confirm(mention_id: int, *, version: int, by) -> Mention:
    return _change(mention_id, "mention.confirm", version=version, by=by,
                   status=Mention.Status.CONFIRMED)


def reject(mention_id: int, *, version: int, by) -> Mention:
    return _change(mention_id, "mention.reject", version=version, by=by,
                   status=Mention.Status.REJECTED)


def relabel(mention_id: int, label: Label, *, version: int, by) -> Mention:
    """A new label is a decision: the mention is confirmed with it."""
    return _change(mention_id, "mention.relabel", version=version, by=by,
                   status=Mention.Status.CONFIRMED, label=label)


def resize(mention_id: int, *, edge: str, grow: bool, version: int, by) -> Mention:
    """Move the start or end edge one token outwards (grow) or inwards; confirms the mention."""
    with one_transaction():
        mention = _locked(mention_id, version, text=True)  # and its answer draws the text
        start, end = article_text.resized(mention.article.text, mention.start, mention.end,
                                          edge=edge, grow=grow)
        _refuse_outside_body(mention.article, start, end, mention)
        if (start, end) == (mention.start, mention.end):
            raise Refused(f"“{mention.text}” cannot be {'widened' if grow else 'narrowed'} "
                          f"at its {edge}.", mention)
        return _apply(mention, "mention.resize", by=by, status=Mention.Status.CONFIRMED,
                      start=start, end=end)


def add(article_id: int, start: int, end: int, label: Label, *, by) -> Mention:
    """A mention the analyst marks: the selection grows to whole words, white space is dropped."""
    with one_transaction():
        article = _locked_article(article_id)
        refuse_unless_editable(article)
        if not (0 <= start < end <= len(article.text)):
            raise Refused("The selection lies outside the article's text.")
        start, end = article_text.snap_to_tokens(article.text, start, end)
        if start >= end:
            raise Refused("The selection holds no text.")
        if "\n" in article.text[start:end]:
            raise Refused("A mention cannot run across lines: select within one paragraph.")
        _refuse_outside_body(article, start, end)
        mention = Mention(article=article, start=start, end=end, text=article.text[start:end],
                          label=label, origin=Mention.Origin.ANALYST,
                          status=Mention.Status.CONFIRMED, decided_by=by, decided_at=timezone.now())
        _refuse_overlap(mention)
        # Linked before it is written, as a decision on a mention is (_apply): one INSERT of the
        # mention with its link, one of both Events.
        link = linking.link_unsaved(mention, by=by)
        rows.insert(Mention, [mention], ids=True)
        events = [Event(action="mention.add", subject_type="mention", subject_id=mention.pk,
                        article=article, actor=by, after=mention.snapshot())]
        if link is not None:
            link.subject_id = mention.pk
            events.append(link)
        rows.write(rows.insert_sql(Event, events), _taught(mention, before_status=""))
        _relink(mention, linked_anew=link is not None)
        start_work(article, by=by)
    return mention


def delete(mention_id: int, *, version: int, by) -> Mention:
    """Delete a mention an analyst added (suggestions are rejected instead, to be learnt from)."""
    with one_transaction():
        mention = _locked(mention_id, version, text=True)  # its answer draws the text again
        if mention.origin != Mention.Origin.ANALYST:
            raise Refused(f"“{mention.text}” is a suggestion: reject it instead of deleting it.",
                          mention)
        Event.record("mention.delete", mention, article=mention.article, actor=by,
                     before=mention.snapshot())
        mention.delete()
        mention.pk = mention_id  # the caller still refers to it (the page removes it)
    return mention


def confirm_all(article_id: int, label: Label, *, seen: dict[int, int], by) -> list[Mention]:
    """Confirm every suggestion of one label that the analyst saw (id → version). Suggestions
    changed meanwhile are left as they are. One decision: undo takes it back whole."""
    from annotation import claim_decisions

    group = uuid.uuid4().hex
    with transaction.atomic():
        article = _locked_article(article_id)
        refuse_unless_editable(article)
        mentions = list(article.mentions.select_for_update().select_related("label")
                        .filter(pk__in=seen, label=label, status=Mention.Status.SUGGESTED))
        confirmed = []
        for mention in mentions:
            if mention.version != seen[mention.pk]:
                continue
            before = mention.snapshot()
            _set(mention, by=by, status=Mention.Status.CONFIRMED)
            confirmed.append((mention, before))
        Mention.objects.bulk_update([m for m, _ in confirmed],
                                    ["status", "decided_by", "decided_at", "version"])
        Event.objects.bulk_create(
            Event(action="mention.confirm", subject_type="mention", subject_id=m.pk,
                  article=article, actor=by, before=before, after={**m.snapshot(), "group": group})
            for m, before in confirmed)
        others = list(article.mentions.live().select_related("entity", "label"))
        learning.record_many([m for m, _ in confirmed], Mention.Status.CONFIRMED)
        linking.link_many([m for m, _ in confirmed], by=by, article_mentions=others)
        if confirmed:
            claim_decisions.relink_speakers(article.pk)
            start_work(article, by=by)
    return [m for m, _ in confirmed]


def undo(article_id: int, *, by) -> list[Mention]:
    """Take back this analyst's last decision on the article (all of it, for a confirm-all);
    again and again, newest first. Decisions on claims and their links are taken back too.

    Refused when someone else changed the mention since: undo never overwrites another's work.
    Returns the mentions as they are now (a deleted one comes back with its old id)."""
    from annotation import claim_decisions

    with transaction.atomic():
        article = _locked_article(article_id)
        refuse_unless_editable(article)
        mine = Event.objects.filter(article=article, actor=by)
        undone = set(mine.filter(action__in=UNDO_ACTIONS).values_list("after__undoes", flat=True))
        last = mine.filter(action__in=ALL_UNDOABLE).exclude(pk__in=undone).order_by("-pk").first()
        if last is None:
            raise Refused("Nothing to undo on this article.")
        group = (last.after or {}).get("group")
        batch = [last] if not group else list(
            mine.filter(action__in=UNDOABLE, after__group=group).exclude(pk__in=undone))
        labels = {label.name: label for label in Label.objects.all()}
        restored = [_restore(event, article, labels, undone=undone, by=by) for event in batch]
        claim_decisions.relink_speakers(article.pk)
    return [mention for mention in restored if mention is not None]


def _restore(event: Event, article: Article, labels: dict[str, Label], *, undone: set[int],
             by) -> Mention | None:
    from annotation import claim_decisions

    # Changes since, other than this analyst's own undos and the links that came with decisions.
    later = (Event.objects.filter(subject_type=event.subject_type, subject_id=event.subject_id,
                                  pk__gt=event.pk)
             .exclude(pk__in=undone).exclude(action__in=UNDO_ACTIONS, actor=by)
             .filter(Q(action__in=ALL_UNDOABLE) | ~Q(actor=by)))
    if later.exists():
        raise Refused(f"That decision cannot be undone: someone changed the "
                      f"{'mention' if event.subject_type == 'mention' else 'claim'} since.")
    if event.subject_type != "mention":
        claim_decisions.restore(event, article, by=by)
        return None
    if event.action == "mention.delete":
        mention = Mention(pk=event.subject_id, article=article, **_fields(event.before, labels))
        mention.version = event.before["version"] + 1
        _refuse_overlap(mention)
        mention.save(force_insert=True)
        before = None
    else:
        mention = Mention.objects.select_for_update(of=("self",)).select_related("label").get(
            pk=event.subject_id)
        before = mention.snapshot()
        if event.action == "mention.add":
            mention.delete()
            mention.pk = event.subject_id
        else:
            for name, value in _fields(event.before, labels).items():
                setattr(mention, name, value)
            if mention.status != Mention.Status.REJECTED:
                _refuse_overlap(mention)
            mention.version += 1
            mention.save()
    after = None if event.action == "mention.add" else mention.snapshot()
    Event.objects.create(action="mention.undo", subject_type="mention", subject_id=event.subject_id,
                         article=article, actor=by, before=before,
                         after={**(after or {}), "undoes": event.pk})
    return None if event.action == "mention.add" else mention


def _fields(snapshot: dict, labels: dict[str, Label]) -> dict:
    return {"start": snapshot["start"], "end": snapshot["end"], "text": snapshot["text"],
            "label": labels[snapshot["label"]], "status": snapshot["status"],
            "origin": snapshot["origin"], "decided_by_id": snapshot["decided_by"],
            "decided_at": parse_datetime(snapshot["decided_at"]) if snapshot["decided_at"] else None,
            "model_label": snapshot.get("model_label", "")}


def one_transaction():
    """A decision (on a mention or a claim) is one transaction. Inside a request's own (an
    idempotent view's) it needs no savepoint: every refusal is raised before anything is
    written, and any other error rolls the whole request back."""
    if transaction.get_connection().in_atomic_block:
        return contextlib.nullcontext()
    return transaction.atomic()


EDITABLE = (Article.Status.NEW, Article.Status.PRETAGGED, Article.Status.IN_PROGRESS,
            Article.Status.RETURNED)


# The locked read of every decision on a mention: the mention with its label, article and entity,
# in plain SQL (see config/rows.py). The article's text is left out (read if used) unless asked;
# its search vector always (PostgreSQL spent more time writing it out than finding the rows).
_MENTION, _LABEL, _ENTITY = Columns(Mention, "m"), Columns(Label, "l"), Columns(Entity, "e")
_ARTICLE = {with_text: Columns(Article, "a", without=("search",) + (() if with_text else ("text",)))
            for with_text in (False, True)}


def _locked(mention_id: int, version: int, *, text: bool = False) -> Mention:
    # Who decided last is not read: only a stale version's message names them (one query more).
    article_columns = _ARTICLE[text]
    with rows.cursor() as cursor:
        cursor.execute(
            f"""SELECT {_MENTION.sql}, {article_columns.sql}, {_LABEL.sql}, {_ENTITY.sql}
                FROM {Mention._meta.db_table} m
                JOIN {Article._meta.db_table} a ON a.id = m.article_id
                JOIN {Label._meta.db_table} l ON l.id = m.label_id
                LEFT JOIN {Entity._meta.db_table} e ON e.id = m.entity_id
                WHERE m.id = %s AND m.annotator_id IS NOT DISTINCT FROM %s
                FOR UPDATE OF m""", [mention_id, layers.current()])
        row = cursor.fetchone()
    if row is None:
        raise Mention.DoesNotExist(f"No mention {mention_id} in this layer.")
    mention, article, label, entity = split(row, _MENTION, article_columns, _LABEL, _ENTITY)
    mention = _MENTION.make(mention)
    mention.article, mention.label = article_columns.make(article), _LABEL.make(label)
    mention.entity = _ENTITY.make(entity) if mention.entity_id else None
    refuse_unless_editable(mention.article, mention)
    if mention.version != version:
        raise StaleVersion(mention)
    return mention


def _refuse_outside_body(article: Article, start: int, end: int, mention: Mention | None = None):
    if start < article.body_start or end > article.body_end:
        raise Refused("That part of the page is not the article (share buttons, comment forms, "
                      "teasers): it is not annotated.", mention)


def refuse_unless_editable(article: Article, current=None, *,
                           consequence: str = "its mentions can no longer be changed") -> None:
    """Decisions on an article stop once it is submitted, approved, or (in a private layer) once
    its analyst submitted their layer; `current` is the mention or claim the refusal shows."""
    if article.status not in EDITABLE:
        raise Refused(f"This article is {article.get_status_display()}: {consequence}.", current)
    if layers.closed(article.pk):
        raise Refused("You submitted your annotation of this article: it waits for the reviewer.",
                      current)


def _change(mention_id: int, action: str, *, version: int, by, **changes) -> Mention:
    with one_transaction():
        return _apply(_locked(mention_id, version), action, by=by, **changes)


def _apply(mention: Mention, action: str, *, by, **changes) -> Mention:
    before = mention.snapshot()
    _set(mention, by=by, **changes)
    stood = before["status"] != Mention.Status.REJECTED
    moved = (before["start"], before["end"]) != (mention.start, mention.end)
    # Standing mentions never overlap: one that stood and keeps its span cannot overlap now.
    if mention.status != Mention.Status.REJECTED and (moved or not stood):
        _refuse_overlap(mention)
    # The link is made before the mention is written; the mention, both Events and what the
    # pre-tagger learns are then written by one statement.
    events = [Event(action=action, subject_type="mention", subject_id=mention.pk,
                    article=mention.article, actor=by, before=before, after=mention.snapshot())]
    if (link := linking.link_unsaved(mention, by=by)) is not None:
        events.append(link)
    rows.write(rows.update_sql(mention, DECIDED), rows.insert_sql(Event, events),
               _taught(mention, before_status=before["status"]))
    mention.before = before  # the answer redraws where the mention was, too
    _relink(mention, linked_anew=link is not None,
            spans=[(before["start"], before["end"]), (mention.start, mention.end)])
    start_work(mention.article, by=by)
    return mention


def _taught(mention: Mention, *, before_status: str) -> rows.Statement | None:
    """What a decision that changed the mention's status teaches the pre-tagger (learning), as a
    statement to write with the decision's own."""
    return learning.counted([mention], mention.status) if mention.status != before_status else None


def _relink(mention: Mention, *, spans=None, linked_anew: bool = False) -> None:
    """Point the claims spoken where the mention was and is (`spans`, if not only where it is)
    at it, or away from it, once it is written; `linked_anew`: its entity changed, which the
    rows of its claims name. Their ids are kept on the mention: the answer draws their rows."""
    from annotation import claim_decisions

    mention.relinked = claim_decisions.relink_speakers(
        mention.article_id, around=spans or [(mention.start, mention.end)],
        spoken_by=mention.pk if linked_anew else None)


# What a decision on a mention changes: _set's fields and the entity link's.
DECIDED = ("start", "end", "text", "label", "status", "decided_by", "decided_at", "version",
           "entity", "entity_accepted", "link_reason")


def _set(mention: Mention, *, by, **changes) -> None:
    for name, value in changes.items():
        setattr(mention, name, value)
    if "start" in changes or "end" in changes:
        mention.text = mention.article.text[mention.start:mention.end]
    mention.decided_by = by
    mention.decided_at = timezone.now()
    mention.version += 1


def _refuse_overlap(mention: Mention) -> None:
    # The database refuses it too (mention_no_overlap); checking first gives a clear message.
    # Plain SQL (config/rows.py): every add and every resize asks.
    with rows.cursor() as cursor:
        cursor.execute(
            f"""SELECT m.text, l.name FROM {Mention._meta.db_table} m
                JOIN {Label._meta.db_table} l ON l.id = m.label_id
                WHERE m.article_id = %s AND m.annotator_id IS NOT DISTINCT FROM %s
                      AND m.status <> %s AND m.start < %s AND m."end" > %s
                      AND m.id IS DISTINCT FROM %s
                ORDER BY m.start LIMIT 1""",
            [mention.article_id, layers.current(), Mention.Status.REJECTED, mention.end,
             mention.start, mention.pk])
        other = cursor.fetchone()
    if other is not None:
        text, label = other
        current = Mention.objects.select_related("label").filter(pk=mention.pk).first()
        raise Overlap(f"“{mention.text}” would overlap “{text}” ({label}), "
                      "which stands: reject or narrow that one first.", current)


def _locked_article(article_id: int) -> Article:
    """The article, locked for a decision about it (plain SQL, as _locked)."""
    with rows.cursor() as cursor:
        cursor.execute(f"SELECT {_ARTICLE[True].sql} FROM {Article._meta.db_table} a "
                       "WHERE a.id = %s FOR UPDATE", [article_id])
        row = cursor.fetchone()
    if row is None:
        raise Article.DoesNotExist(f"No article {article_id}.")
    return _ARTICLE[True].make(row)


def move(article: Article, status: str, action: str, *, by, **after) -> Article:
    """Put the (locked) article in `status` and record the step as an Event `action`, with the
    status before and after and whatever else `after` says."""
    before = {"status": article.status}
    if article.status != status:
        article.status = status
        article.save(update_fields=["status", "updated_at"])
    Event.record(action, article, article=article, actor=by, before=before,
                 after={"status": status, **after})
    return article


def start_work(article: Article, *, by) -> None:
    """The first decision on a pre-tagged (or returned) article puts it in progress."""
    if article.status in (Article.Status.NEW, Article.Status.PRETAGGED, Article.Status.RETURNED):
        move(article, Article.Status.IN_PROGRESS, "article.start", by=by)


class NeedsConfirmation(Exception):
    def __init__(self, undecided: int):
        super().__init__(f"{undecided} suggestions are still undecided")
        self.undecided = undecided


def submit(article_id: int, *, by, even_if_undecided: bool = False) -> Article:
    with transaction.atomic():
        article = _locked_article(article_id)
        refuse_unless_editable(article, consequence="it cannot be submitted")
        undecided = (article.mentions.filter(status=Mention.Status.SUGGESTED).count()
                     + article.claims.filter(status=Claim.Status.SUGGESTED).count())
        if undecided and not even_if_undecided:
            raise NeedsConfirmation(undecided)
        if (held := layers.assignment(article.pk)) is not None:
            return _submit_layer(article, held, by=by, undecided=undecided)
        return move(article, Article.Status.SUBMITTED, "article.submit", by=by, undecided=undecided)


def _submit_layer(article: Article, held, *, by, undecided: int) -> Article:
    """An independent analyst submits their private layer; the article is submitted (for the
    reviewer to adjudicate) once every independent layer is."""
    held.submitted_at = timezone.now()
    held.save(update_fields=["submitted_at"])
    waiting = article.assignments.filter(independent=True, submitted_at__isnull=True).exists()
    return move(article, article.status if waiting else Article.Status.SUBMITTED, "article.submit",
                by=by, undecided=undecided, layer=by.get_username())
