"""An article's history: every Event on it as a timeline of plain sentences, grouped by day.

Newest first: the page answers "what happened to this article lately, and who did it?", which is
what a reviewer opening a submitted or returned article asks first; older events are an "Older"
link away. Pages are cut by keyset on (created_at, pk), never OFFSET, so a deep page costs what
the first does and an event recorded while someone pages is neither lost nor shown twice.

Sentences are built from the action and the before/after snapshots the decisions record
(annotation.decisions, annotation.claim_decisions, annotation.linking, the pre-tagger and the
importers). An action this module does not know still shows its name and the fields it changed.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from annotation.models import Claim, Credibility, Entity, Event, Mention
from corpus.models import Article

PAGE = "annotation/article_history.html"
PAGE_SIZE = 100
SYSTEM = "system"
# Filter name → (what the filter says, the Event.subject_type values it keeps). Links to entities
# are decisions on a mention (subject "mention"); "links" are links between claims.
KINDS = {
    "mentions": ("Mentions and their entities", ("mention",)),
    "claims": ("Claims and their grades", ("claim",)),
    "links": ("Links between claims", ("claimlink",)),
    "article": ("Article workflow", ("article",)),
}
_KIND_OF = {subject_type: kind for kind, (_, types) in KINDS.items() for subject_type in types}


@require_GET
@login_required
@permission_required("corpus.view_article", raise_exception=True)
def article_history(request: HttpRequest, article_id: int) -> HttpResponse:
    article = get_object_or_404(Article.objects.only("title"), pk=article_id)
    form = HistoryFilter(request.GET, people=people_of(article))
    context = {"article": article, "form": form, "page": None, "days": []}
    if not form.is_valid():
        return TemplateResponse(request, PAGE, context, status=HTTPStatus.UNPROCESSABLE_ENTITY)
    page = timeline_page(form.events(article), before=form.cleaned_data["before"],
                         after=form.cleaned_data["after"])
    context.update(page=page, days=by_day(entries(page.events)))
    return TemplateResponse(request, PAGE, context)


# Pages of events, newest first.

@dataclass(frozen=True)
class Cursor:
    """A place in the timeline: an event's (created_at, pk), written "<µs since 1970>_<pk>"."""

    created_at: datetime
    pk: int

    def __str__(self) -> str:
        return f"{(self.created_at - _EPOCH) // timedelta(microseconds=1)}_{self.pk}"

    @classmethod
    def of(cls, event: Event) -> "Cursor":
        return cls(event.created_at, event.pk)

    @classmethod
    def parse(cls, text: str) -> "Cursor":
        if not (match := re.fullmatch(r"(\d{1,18})_(\d{1,18})", text)):
            raise ValueError(text)
        try:
            created_at = _EPOCH + timedelta(microseconds=int(match[1]))
        except OverflowError as error:
            raise ValueError(text) from error
        return cls(created_at, int(match[2]))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TimelinePage:
    events: list[Event]  # newest first
    older: Cursor | None  # where the next older page starts, if there is one
    newer: Cursor | None  # where the next newer page starts, if this is not the newest


def timeline_page(events: QuerySet, *, before: Cursor | None = None, after: Cursor | None = None,
                  size: int = PAGE_SIZE) -> TimelinePage:
    """`size` events older than `before` (or newer than `after`, or the newest), newest first.
    One query: one row more than the page says whether more lie beyond it."""
    if after is not None:
        rows = list(events.filter(_beyond(after, "gt")).order_by("created_at", "pk")[:size + 1])
        shown = rows[:size][::-1]
        return TimelinePage(shown, older=Cursor.of(shown[-1]) if shown else None,
                            newer=Cursor.of(shown[0]) if len(rows) > size else None)
    if before is not None:
        events = events.filter(_beyond(before, "lt"))
    rows = list(events.order_by("-created_at", "-pk")[:size + 1])
    shown = rows[:size]
    return TimelinePage(shown, older=Cursor.of(shown[-1]) if len(rows) > size else None,
                        newer=Cursor.of(shown[0]) if before is not None and shown else None)


def _beyond(cursor: Cursor, lookup: str) -> Q:
    return (Q(**{f"created_at__{lookup}": cursor.created_at})
            | Q(created_at=cursor.created_at, **{f"pk__{lookup}": cursor.pk}))


# Filters, as GET parameters (the page works without JavaScript).

class CursorField(forms.CharField):
    widget = forms.HiddenInput

    def to_python(self, value) -> Cursor | None:
        value = super().to_python(value)
        if not value:
            return None
        try:
            return Cursor.parse(value)
        except ValueError:
            raise forms.ValidationError(
                "This page link is damaged: it does not say where in the history to start. "
                "Show the newest events instead.") from None


class HistoryFilter(forms.Form):
    person = forms.ChoiceField(label="Who", required=False, error_messages={
        "invalid_choice": "Nobody by that id has changed this article: choose someone in the "
                          "list."})
    kind = forms.ChoiceField(label="What", required=False, choices=[
        ("", "Everything"), *((kind, text) for kind, (text, _) in KINDS.items())], error_messages={
        "invalid_choice": "There is no kind of change called “%(value)s”: choose one in the list."})
    before = CursorField(required=False)
    after = CursorField(required=False)

    def __init__(self, data, *, people: list) -> None:
        super().__init__(data)
        self.fields["person"].choices = [("", "Anyone"), *((str(p.pk), who(p)) for p in people),
                                         (SYSTEM, "System or pre-tagger")]

    def clean(self) -> dict:
        data = super().clean()
        if data.get("before") and data.get("after"):
            raise forms.ValidationError("A page link says “older than” or “newer than”, not both.")
        return data

    @property
    def filtered(self) -> bool:
        return bool(self.is_valid() and (self.cleaned_data["person"] or self.cleaned_data["kind"]))

    def events(self, article: Article) -> QuerySet:
        events = Event.objects.filter(article=article).select_related("actor")
        person, kind = self.cleaned_data["person"], self.cleaned_data["kind"]
        if person == SYSTEM:
            events = events.filter(actor__isnull=True)
        elif person:
            events = events.filter(actor_id=int(person))
        if kind:
            events = events.filter(subject_type__in=KINDS[kind][1])
        return events


def people_of(article: Article) -> list:
    """Everyone who changed the article, for the "Who" filter (one query)."""
    return list(get_user_model().objects.filter(events__article=article).distinct()
                .order_by("username"))


def who(user) -> str:
    return user.get_full_name() or user.get_username()


# What each event says.

@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class Entry:
    event: Event
    who: str
    what: str
    changes: list[Change]
    kind: str  # one of KINDS, or "other"
    batch = False  # a class attribute, not a field: the template tells entries from batches


@dataclass
class Batch:
    """The events of one decision that changed many things at once (a "confirm all", whose
    events share `after["group"]`): one line that opens on each of them."""

    entries: list[Entry]
    batch = True

    @property
    def event(self) -> Event:
        return self.entries[0].event

    @property
    def who(self) -> str:
        return self.entries[0].who

    @property
    def kind(self) -> str:
        return self.entries[0].kind

    @property
    def what(self) -> str:
        if self.event.action != "mention.confirm":
            return f"made {len(self.entries)} changes at once ({self.event.action})"
        labels = sorted({(e.event.after or {}).get("label", "?") for e in self.entries})
        return (f"confirmed {len(self.entries)} {' and '.join(labels)} suggestions at once "
                "(“confirm all”)")


@dataclass
class Day:
    date: date
    items: list[Entry | Batch] = field(default_factory=list)


@dataclass
class Known:
    """What events refer to by id only (an entity, the mention an entity link is about, the
    claims of a claim link, the decision an undo took back), fetched once for a page: one query
    for each kind at most, however many events."""

    entities: dict[int, str] = field(default_factory=dict)
    linked: dict[int, str] = field(default_factory=dict)  # link event pk → its mention then
    claims: dict[int, Claim] = field(default_factory=dict)
    actions: dict[int, str] = field(default_factory=dict)

    @classmethod
    def for_events(cls, events: list[Event]) -> "Known":
        links = [e for e in events if e.action == "mention.link"]
        entity_ids = {(side or {}).get("entity") for e in links for side in (e.before, e.after)}
        claim_ids = {(side or {}).get(key) for e in events if e.subject_type == "claimlink"
                     for side in (e.before, e.after) for key in ("claim", "other", "from")}
        undone = {(e.after or {}).get("undoes") for e in events if e.action.endswith(".undo")}
        known = cls(linked=_linked_mentions(events))
        if ids := _ids(entity_ids):
            known.entities = dict(Entity.objects.filter(pk__in=ids).values_list("pk", "name"))
        if ids := _ids(claim_ids):
            known.claims = Claim.objects.select_related("article").only(
                "text", "article", "article__title").in_bulk(ids)
        if ids := _ids(undone):
            known.actions = dict(Event.objects.filter(pk__in=ids).order_by()
                                 .values_list("pk", "action"))
        return known


def _linked_mentions(events: list[Event]) -> dict[int, str]:
    """The mention each entity link is about, as it was then: from the latest earlier event of
    the page that recorded it (a link follows the decision that made it), else as it is now."""
    described, unknown = {}, {}
    latest: dict[int, str] = {}
    for event in reversed(events):  # oldest first
        if event.subject_type != "mention":
            continue
        if event.action == "mention.link":
            if event.subject_id in latest:
                described[event.pk] = latest[event.subject_id]
            else:
                unknown[event.pk] = event.subject_id
        elif {"label", "text"} <= (state := _state(event)).keys():
            latest[event.subject_id] = _mention(state)
    if unknown:
        now = {m.pk: _mention({"label": m.label.name, "text": m.text}) for m in
               Mention.objects.filter(pk__in=_ids(unknown.values())).select_related("label")
               .only("text", "label", "label__name")}
        described.update((pk, now.get(mention_id, "a mention since deleted"))
                         for pk, mention_id in unknown.items())
    return described


def _ids(values) -> set[int]:
    return {value for value in values if isinstance(value, int)}


def entries(events: list[Event]) -> list[Entry]:
    known = Known.for_events(events)
    return [entry(event, known) for event in events]


def entry(event: Event, known: Known) -> Entry:
    if event.actor is not None:
        name = who(event.actor)
    else:
        name = "pre-tagger" if event.action == "article.pretag" else "system"
    return Entry(event, name, sentence(event, known), changes(event, known),
                 _KIND_OF.get(event.subject_type, "other"))


def by_day(entries: list[Entry]) -> list[Day]:
    """Consecutive entries of one local day together (they come newest first), and consecutive
    entries of one decision in one Batch."""
    days: list[Day] = []
    for item in entries:
        day = timezone.localdate(item.event.created_at)
        if not days or days[-1].date != day:
            days.append(Day(day))
        items = days[-1].items
        group = _group(item)
        if group is None or not items or _group(items[-1]) != group:
            items.append(item)
        elif isinstance(items[-1], Batch):
            items[-1].entries.append(item)
        else:
            items[-1] = Batch([items[-1], item])
    return days


def _group(item: Entry | Batch) -> str | None:
    after = item.event.after
    return after.get("group") if isinstance(after, dict) else None


def sentence(event: Event, known: Known) -> str:
    """What happened, after the name of who did it: "confirmed ACTOR “Habib Essid”"."""
    build = SENTENCES.get(event.action)
    if build is not None:
        try:
            return build(_Facts(event, known))
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # an older or odd snapshot: say what is sure rather than fail the page
    return f"recorded “{event.action}” on {_subject(_Facts(event, known))}"


@dataclass(frozen=True)
class _Facts:
    event: Event
    known: Known

    @property
    def before(self) -> dict:
        return _dict(self.event.before)

    @property
    def after(self) -> dict:
        return _dict(self.event.after)

    @property
    def state(self) -> dict:
        return _state(self.event)


def _dict(snapshot) -> dict:
    return snapshot if isinstance(snapshot, dict) else {}


def _state(event: Event) -> dict:
    """The subject as it is described: after the change, or before it when it is gone."""
    after = _dict(event.after)
    return after if "text" in after else _dict(event.before)


# Mentions

def _mention(snapshot: dict) -> str:
    return f"{snapshot['label']} “{snapshot['text']}”"


def _resized(facts: _Facts) -> str:
    before, after = facts.before, facts.after
    if after["start"] <= before["start"] and after["end"] >= before["end"]:
        verb = "widened"
    elif after["start"] >= before["start"] and after["end"] <= before["end"]:
        verb = "narrowed"
    else:
        verb = "moved"
    return f"{verb} {_subject(facts, state=before)} to “{_short(after['text'])}”"


def _relabelled(facts: _Facts) -> str:
    return (f"relabelled “{facts.after['text']}” "
            f"{facts.before['label']} → {facts.after['label']}")


def _confirmed(facts: _Facts) -> str:
    every = " (with “confirm all”)" if "group" in facts.after else ""
    return f"confirmed {_mention(facts.state)}{every}"


def _linked_entity(facts: _Facts) -> str:
    mention = facts.known.linked.get(facts.event.pk, "a mention since deleted")
    before, after = facts.before, facts.after
    if after["entity"] is None:
        return f"cleared the entity of {mention}"
    entity = _entity(after["entity"], facts.known)
    if before.get("entity") == after["entity"] and after["accepted"] and not before.get("accepted"):
        return f"accepted the link of {mention} to {entity}"
    if after.get("reason") == "chosen by the analyst":
        return f"linked {mention} to {entity}"
    pending = "" if after["accepted"] else ", to be accepted"
    return f"linked {mention} to {entity} ({after.get('reason') or 'automatically'}{pending})"


def _entity(pk: int | None, known: Known) -> str:
    if pk is None:
        return "none"
    return known.entities.get(pk, f"entity {pk} (since merged or deleted)")


# Claims

def _claim(snapshot: dict) -> str:
    return f"the claim “{_short(snapshot['text'])}”"


def _claim_added(facts: _Facts) -> str:
    speaker = facts.after.get("speaker")
    return f"marked a claim{f' by {speaker}' if speaker else ''}: “{_short(facts.after['text'])}”"


def _speaker(facts: _Facts) -> str:
    if not facts.after["speaker"]:
        return f"made {_claim(facts.after)} the article's own voice (no speaker)"
    return f"set the speaker of {_claim(facts.after)} to {facts.after['speaker']}"


def _cue(facts: _Facts) -> str:
    if not facts.after["cue"]:
        return f"removed the cue of {_claim(facts.after)}"
    return f"set the cue of {_claim(facts.after)} to “{facts.after['cue']}”"


def _graded(facts: _Facts) -> str:
    if facts.after["credibility"] is None:
        return f"cleared the credibility grade of {_claim(facts.after)}"
    return f"graded {_claim(facts.after)} {Credibility(facts.after['credibility']).label}"


# Links between claims (subject: the ClaimLink; "from" is the claim of this article decided on).

RELATIONS = {"corroborates": "as corroborating", "contradicts": "as contradicting",
             "same": "as the same claim as"}


def _pair(facts: _Facts, snapshot: dict) -> tuple[str, str]:
    """The claim of this article and the other article's claim, as "“…”" and "“…” (in “title”)"."""
    here = snapshot.get("from", snapshot["claim"])
    there = snapshot["other"] if here == snapshot["claim"] else snapshot["claim"]
    ours, theirs = facts.known.claims.get(here), facts.known.claims.get(there)
    ours_text = f"the claim “{_short(ours.text)}”" if ours else "a claim since deleted"
    theirs_text = (f"“{_short(theirs.text)}” (in “{_short(theirs.article.title)}”)" if theirs
                   else "a claim since deleted")
    return ours_text, theirs_text


def _linked_claims(facts: _Facts) -> str:
    ours, theirs = _pair(facts, facts.after)
    if facts.event.before is not None:
        return f"changed the link between {ours} and {theirs}"
    return f"linked {ours} {RELATIONS[facts.after['relation']]} {theirs}"


def _unlinked_claims(facts: _Facts) -> str:
    ours, theirs = _pair(facts, facts.before)
    relation = RELATIONS[facts.before["relation"]].removeprefix("as ")
    return f"unlinked {ours} from {theirs}, which it had as {relation}"


# Undo: "undid the relabelling of PLACE “Sirte”".

UNDONE = {"confirm": "the confirmation of", "reject": "the rejection of",
          "relabel": "the relabelling of", "resize": "the resizing of", "add": "the marking of",
          "delete": "the deletion of", "span": "the new span of", "speaker": "the new speaker of",
          "cue": "the new cue of", "link": "the linking of", "unlink": "the unlinking of"}


def _undid(facts: _Facts) -> str:
    action = facts.known.actions.get(facts.after.get("undoes"), "")
    what = UNDONE.get(action.partition(".")[2], "a decision on")
    return f"undid {what} {_subject(facts)}"


# The article's workflow

def _pretagged(facts: _Facts) -> str:
    again = "re-tagged" if facts.before.get("status") not in (None, "new") else "pre-tagged"
    found = [_count(facts.after["suggestions"], "suggestion")]
    if "claims" in facts.after:
        found.append(_count(facts.after["claims"], "claim"))
    kept = facts.after.get("kept")
    tail = f", kept {_count(kept, 'decided mention')}" if kept else ""
    return f"{again} the article: {' and '.join(found)}{tail}"


def _started(facts: _Facts) -> str:
    if facts.before.get("status") == Article.Status.RETURNED:
        return "took the returned article up again"
    return "started work on the article"


def _submitted(facts: _Facts) -> str:
    undecided = facts.after.get("undecided")
    return "submitted the article" + (f" with {_count(undecided, 'suggestion')} undecided"
                                      if undecided else "")


def _returned(facts: _Facts) -> str:
    comments = facts.after.get("comments")
    if isinstance(comments, list):
        comments = len(comments)
    return "returned the article" + (f" with {_count(comments, 'comment')}"
                                     if isinstance(comments, int) and comments else "")


def _imported_claims(facts: _Facts) -> str:
    return (f"imported {_count(facts.after['claims'], 'claim')} and "
            f"{_count(facts.after['links'], 'link')}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _short(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _subject(facts: _Facts, state: dict | None = None) -> str:
    """The thing an event is about, as a sentence names it."""
    state = facts.state if state is None else state
    match facts.event.subject_type:
        case "mention" if {"label", "text"} <= state.keys():
            return _mention(state)
        case "claim" if "text" in state:
            return _claim(state)
        case "claimlink" if {"claim", "other"} <= state.keys():
            ours, theirs = _pair(facts, state)
            return f"{ours} with {theirs}"
        case "article":
            return "the article"
    return f"{facts.event.subject_type} {facts.event.subject_id}"


SENTENCES: dict[str, Callable[[_Facts], str]] = {
    "mention.confirm": _confirmed,
    "mention.reject": lambda facts: f"rejected {_mention(facts.state)}",
    "mention.relabel": _relabelled,
    "mention.resize": _resized,
    "mention.add": lambda facts: f"marked {_mention(facts.after)}",
    "mention.delete": lambda facts: f"deleted {_mention(facts.before)}",
    "mention.link": _linked_entity,
    "mention.undo": _undid,
    "claim.confirm": lambda facts: f"confirmed {_claim(facts.state)}",
    "claim.reject": lambda facts: f"rejected {_claim(facts.state)}",
    "claim.resize": _resized,
    "claim.span": lambda facts: f"changed the span of {_claim(facts.before)}",
    "claim.speaker": _speaker,
    "claim.cue": _cue,
    "claim.grade": _graded,
    "claim.add": _claim_added,
    "claim.delete": lambda facts: f"deleted {_claim(facts.before)}",
    "claim.link": _linked_claims,
    "claim.unlink": _unlinked_claims,
    "claim.undo": _undid,
    "article.pretag": _pretagged,
    "article.import_confirmed": lambda facts: (
        f"imported the article with {_count(facts.after['mentions'], 'confirmed mention')}"),
    "article.import_claims": _imported_claims,
    "article.start": _started,
    "article.submit": _submitted,
    "article.approve": lambda facts: "approved the article",
    "article.return": _returned,
    "article.reopen": lambda facts: "reopened the article",
}


# Before → after

# Bookkeeping every decision moves: saying it would drown what changed.
HIDDEN = frozenset({"version", "decided_by", "decided_at", "graded_by", "graded_at", "created_by",
                    "group", "undoes", "from", "speaker_mention", "speaker_start", "speaker_end"})
# Offsets shown as one range: "15–26 → 6–26".
RANGES = {"start": ("span", "end"), "evidence_start": ("evidence", "evidence_end")}
_RANGE_ENDS = {end for _, end in RANGES.values()}
# "pretagged" → "pre-tagged"; the statuses of mentions and claims read as they are.
STATUSES = {value: str(label).lower() for value, label in Article.Status.choices}


def changes(event: Event, known: Known) -> list[Change]:
    """The fields the event changed, before → after, from its snapshots alone (so actions added
    later show something too). Fields only one side has are left to the sentence, except for an
    action this module does not know, whose fields are all listed."""
    both = isinstance(event.before, dict) and isinstance(event.after, dict)
    if not both and event.action in SENTENCES:
        return []
    before, after = _dict(event.before), _dict(event.after)
    keys = [key for key in before if key in after] if both else list({**before, **after})
    found = []
    for key in keys:
        if key in HIDDEN or key in _RANGE_ENDS:
            continue
        name, end = RANGES.get(key, (key, None))
        if end is not None:
            old, new = _range(before, key, end), _range(after, key, end)
        else:
            old, new = _value(key, before.get(key), known), _value(key, after.get(key), known)
        if old != new:
            found.append(Change(name.replace("_", " "), old, new))
    return found


def _range(snapshot: dict, start: str, end: str) -> str:
    if start not in snapshot:
        return "—"
    return f"{snapshot[start]}–{snapshot.get(end, '?')}"


def _value(key: str, value, known: Known) -> str:
    if value is None or value == "" or value == []:
        return "—" if key != "entity" else "none"
    if key == "entity" and isinstance(value, int):
        return _entity(value, known)
    if key == "credibility" and value in Credibility.values:
        return Credibility(value).label
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if key == "status":
        return STATUSES.get(value, str(value).replace("_", " "))
    return str(value)
