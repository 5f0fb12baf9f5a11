"""An analyst's decisions on claims, their speakers and their links to other articles' claims.

The rules are those of annotation/decisions.py: each decision checks the version of the claim it
was based on, changes it, moves the article along its workflow and records an Event (who, when,
before, after), all in one transaction. Linking, unlinking and grading are decisions on the
claim too (its version moves), so two analysts never overwrite each other's links unseen.
"""

import bisect
from collections.abc import Iterable

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from annotation import decisions, layers, linking
from annotation.decisions import Refused
from annotation.models import Claim, ClaimLink, Credibility, Entity, Event, Label, Mention, Reliability
from config import rows
from corpus import text as article_text
from corpus.models import Article, Source

# Mentions a speaker can be: a person, a group, or a country speaking as one ("Tunisia says").
SPEAKER_LABELS = linking.LINKED_LABELS
_OPENING = "\"'“‘«„ \t"
_CLOSING = "\"'”’». ,;:!?…\t"
MAX_CUE = Claim._meta.get_field("cue").max_length
MAX_SPEAKER = Claim._meta.get_field("speaker").max_length


CLAIMS_LOCKED = "its claims can no longer be changed"


class StaleClaim(Refused):
    """The claim changed since the analyst saw it."""

    def __init__(self, current: Claim):
        by = f" by {current.decided_by}" if current.decided_by_id else ""
        super().__init__(f"The claim “{_short(current.text)}” was changed{by} meanwhile: it is now "
                         f"{current.get_status_display().lower()}. Nothing was changed.", current)


class SpeakerIndex:
    """An article's standing mentions that can speak, to find the one at a speaker's place."""

    def __init__(self, mentions: Iterable[Mention]):
        self.mentions = sorted((m for m in mentions if m.status != Mention.Status.REJECTED
                                and m.label.name in SPEAKER_LABELS), key=lambda m: m.start)
        self.starts = [m.start for m in self.mentions]

    def at(self, start: int | None, end: int | None) -> Mention | None:
        if start is None or end is None:
            return None
        # Standing mentions never overlap: the last one starting before `end` is the one, if it
        # reaches into the speaker's span.
        index = bisect.bisect_left(self.starts, end) - 1
        if index >= 0 and self.mentions[index].end > start:
            return self.mentions[index]
        return None


# Decisions on one claim.

def confirm(claim_id: int, *, version: int, by) -> Claim:
    return _change(claim_id, "claim.confirm", version=version, by=by, status=Claim.Status.CONFIRMED)


def reject(claim_id: int, *, version: int, by) -> Claim:
    return _change(claim_id, "claim.reject", version=version, by=by, status=Claim.Status.REJECTED)


def resize(claim_id: int, *, edge: str, grow: bool, version: int, by) -> Claim:
    """Move the start or end edge one word outwards (grow) or inwards; confirms the claim."""
    with decisions.one_transaction():
        claim = _locked(claim_id, version)
        start, end = article_text.resized(claim.article.text, claim.start, claim.end,
                                          edge=edge, grow=grow)
        if (start, end) == (claim.start, claim.end):
            raise Refused(f"The claim cannot be {'widened' if grow else 'narrowed'} at its {edge}.",
                          claim)
        _refuse_bad_span(claim.article, start, end, claim)
        return _apply(claim, "claim.resize", by=by, status=Claim.Status.CONFIRMED,
                      start=start, end=end)


def set_span(claim_id: int, start: int, end: int, *, version: int, by) -> Claim:
    """The claim's span from a selection (grown to whole words); confirms the claim."""
    with decisions.one_transaction():
        claim = _locked(claim_id, version)
        start, end = _snapped(claim.article, start, end, claim)
        return _apply(claim, "claim.span", by=by, status=Claim.Status.CONFIRMED,
                      start=start, end=end)


def set_speaker(claim_id: int, start: int | None, end: int | None, *, version: int, by) -> Claim:
    """The speaker from a selection anywhere in the article (the name the text gives, even in
    another paragraph); no selection makes it the article's own voice. Confirms the claim."""
    with decisions.one_transaction():
        claim = _locked(claim_id, version)
        if start is None or end is None:
            speaker, start, end = "", None, None
        else:
            start, end = _snapped(claim.article, start, end, claim, what="speaker")
            speaker = claim.article.text[start:end]
            if len(speaker) > MAX_SPEAKER:
                raise Refused(f"A speaker has at most {MAX_SPEAKER} characters: select the name.",
                              claim)
        return _apply(claim, "claim.speaker", by=by, status=Claim.Status.CONFIRMED,
                      speaker=speaker, speaker_start=start, speaker_end=end)


def set_cue(claim_id: int, cue: str, *, version: int, by) -> Claim:
    cue = " ".join(cue.split())
    if len(cue) > MAX_CUE:
        raise Refused(f"A cue has at most {MAX_CUE} characters (“said”, “according to”).")
    with decisions.one_transaction():
        claim = _locked(claim_id, version)
        return _apply(claim, "claim.cue", by=by, status=Claim.Status.CONFIRMED, cue=cue)


def grade(claim_id: int, credibility: int | None, *, version: int, by) -> Claim:
    """The claim's credibility on the Admiralty scale (1–6), or none. Grading is an assessment,
    not an annotation: it stays open after the article is approved."""
    if credibility is not None and credibility not in Credibility.values:
        raise Refused("Credibility is graded 1 (confirmed) to 6 (cannot be judged).")
    with decisions.one_transaction():
        claim = _locked(claim_id, version, editable=False)
        before = claim.snapshot()
        claim.credibility = credibility
        claim.graded_by = by
        claim.graded_at = timezone.now()
        claim.version += 1
        claim.save(update_fields=["credibility", "graded_by", "graded_at", "version"])
        Event.record("claim.grade", claim, article=claim.article, actor=by, before=before,
                     after=claim.snapshot())
    return claim


def delete(claim_id: int, *, version: int, by) -> Claim:
    """Delete a claim an analyst marked (suggestions are rejected instead)."""
    with decisions.one_transaction():
        claim = _locked(claim_id, version)
        if claim.origin != Claim.Origin.ANALYST:
            raise Refused("This claim is a suggestion: reject it instead of deleting it.", claim)
        if claim.links_out.exists() or claim.links_in.exists():
            raise Refused("This claim is linked to other articles' claims: unlink them first.",
                          claim)
        Event.record("claim.delete", claim, article=claim.article, actor=by,
                     before=claim.snapshot())
        claim.delete()
        claim.pk = claim_id
    return claim


# Decisions on an article.

def add(article_id: int, start: int, end: int, *, by, cue: str = "") -> Claim:
    """A claim the analyst marks by selecting it; the article's own voice until a speaker is set."""
    with decisions.one_transaction():
        article = Article.objects.select_for_update().get(pk=article_id)
        decisions.refuse_unless_editable(article, consequence=CLAIMS_LOCKED)
        start, end = _snapped(article, start, end)
        claim = Claim(article=article, start=start, end=end, text=article.text[start:end],
                      cue=" ".join(cue.split())[:MAX_CUE], origin=Claim.Origin.ANALYST,
                      status=Claim.Status.CONFIRMED, decided_by=by, decided_at=timezone.now())
        _refuse_overlap(claim)
        claim.save()
        Event.record("claim.add", claim, article=article, actor=by, after=claim.snapshot())
        decisions.start_work(article, by=by)
    return claim


# Links to other articles' claims.

def link(claim_id: int, other_id: int, relation: str, *, version: int, by,
         evidence: tuple[int, int] | None = None) -> ClaimLink:
    """Link a claim to another article's claim that corroborates or contradicts it, or states
    the same. The evidence is the other claim's span unless a part of its article is given.
    Linking an already linked pair changes the relation."""
    if relation not in ClaimLink.Relation.values:
        raise Refused("Say how the claims relate: corroborates, contradicts or same.")
    with decisions.one_transaction():
        claim = _locked(claim_id, version)
        other = (Claim.objects.select_related("article").filter(pk=other_id).first())
        if other is None or other.status == Claim.Status.REJECTED:
            raise Refused("That claim no longer stands: it cannot be linked.", claim)
        if other.article_id == claim.article_id:
            raise Refused("A claim is linked to claims in other articles, not its own.", claim)
        start, end = evidence or (other.start, other.end)
        if not (other.article.body_start <= start < end <= other.article.body_end):
            raise Refused("The evidence must lie in the other article's text.", claim)
        existing = (ClaimLink.objects.select_for_update()
                    .filter(Q(claim=claim, other=other) | Q(claim=other, other=claim)).first())
        before = existing.snapshot() if existing else None
        if existing is None:
            existing = ClaimLink(claim=claim, other=other)
        existing.relation = relation
        existing.evidence_start, existing.evidence_end = start, end
        existing.created_by = by
        existing.save()
        _touch(claim, by=by)
        Event.record("claim.link", existing, article=claim.article, actor=by, before=before,
                     after={**existing.snapshot(), "from": claim.pk})
    return existing


def unlink(claim_id: int, link_id: int, *, version: int, by) -> ClaimLink:
    with decisions.one_transaction():
        claim = _locked(claim_id, version)
        found = (ClaimLink.objects.select_for_update()
                 .filter(Q(claim=claim) | Q(other=claim), pk=link_id).first())
        if found is None:
            raise Refused("That link is gone already.", claim)
        Event.record("claim.unlink", found, article=claim.article, actor=by,
                     before={**found.snapshot(), "from": claim.pk})
        found.delete()
        found.pk = link_id
        _touch(claim, by=by)
    return found


# Reliability grades of speakers and outlets.

def grade_source(source: Source, reliability: str, *, by) -> Source:
    return _grade_reliability(source, reliability, by=by)


def grade_entity(entity: Entity, reliability: str, *, by) -> Entity:
    return _grade_reliability(entity, reliability, by=by)


def _grade_reliability(subject, reliability: str, *, by):
    if reliability not in Reliability.values:
        raise Refused("Reliability is graded A (completely reliable) to F (cannot be judged).")
    with decisions.one_transaction():
        subject = type(subject).objects.select_for_update().get(pk=subject.pk)
        before = {"reliability": subject.reliability}
        subject.reliability = reliability
        subject.graded_by = by
        subject.graded_at = timezone.now()
        subject.save(update_fields=["reliability", "graded_by", "graded_at"])
        Event.record(f"{subject._meta.model_name}.grade", subject, article=None, actor=by,
                     before=before, after={"reliability": reliability})
    return subject


# Speakers follow the mentions: called by annotation.decisions after a mention changes.

def relink_speakers(article_id: int, *, around: list[tuple[int, int]] | None = None,
                    spoken_by: int | None = None) -> list[int]:
    """Point each claim of the article at the standing mention at its speaker's place; with
    `around`, only the claims whose speaker overlaps one of those spans (where one mention was
    and is: no other claim's speaker can have changed). Returns the ids of the claims changed,
    and with `spoken_by` (a mention around there, whose entity changed) of those it speaks."""
    spoken = []
    if around is not None:  # from the first span's start to the last one's end: one range
        start, end = min(a for a, _ in around), max(b for _, b in around)
        found = _speakers_between(article_id, start, end)
        changed = [Claim(pk=pk, speaker_mention_id=speaker) for pk, had, speaker in found if had != speaker]
        spoken = [pk for pk, had, speaker in found if spoken_by is not None and had == speaker == spoken_by]
    else:
        claims = list(Claim.objects.filter(article_id=article_id, speaker_start__isnull=False)
                      .only("pk", "speaker_start", "speaker_end", "speaker_mention_id"))
        speakers = SpeakerIndex(Mention.objects.filter(article_id=article_id).select_related("label")
                                if claims else [])
        changed = []
        for claim in claims:
            mention = speakers.at(claim.speaker_start, claim.speaker_end)
            if (mention.pk if mention else None) != claim.speaker_mention_id:
                claim.speaker_mention = mention
                changed.append(claim)
    if changed:  # most decisions move no speaker
        Claim.objects.bulk_update(changed, ["speaker_mention"])
    return [claim.pk for claim in changed] + spoken


def _speakers_between(article_id: int, start: int, end: int) -> list[tuple[int, int | None, int | None]]:
    """The claims of the layer in use whose speaker lies between start and end, as (claim id,
    the mention it points at, the standing mention at its speaker's place, as SpeakerIndex
    finds it). Asked on every decision on a mention, in one plain query (config/rows.py): most
    decisions touch no speaker."""
    layer = layers.current()
    with rows.cursor() as cursor:
        cursor.execute(
            f"""SELECT c.id, c.speaker_mention_id,
                       (SELECT m.id FROM {Mention._meta.db_table} m
                        JOIN {Label._meta.db_table} l ON l.id = m.label_id
                        WHERE m.article_id = c.article_id
                              AND m.annotator_id IS NOT DISTINCT FROM %(layer)s
                              AND m.status <> %(rejected)s AND l.name = ANY(%(speakers)s)
                              AND m.start < c.speaker_end AND m."end" > c.speaker_start
                        ORDER BY m.start DESC LIMIT 1)
                FROM {Claim._meta.db_table} c
                WHERE c.article_id = %(article)s AND c.annotator_id IS NOT DISTINCT FROM %(layer)s
                      AND c.speaker_start < %(end)s AND c.speaker_end > %(start)s""",
            {"layer": layer, "rejected": Mention.Status.REJECTED, "speakers": list(SPEAKER_LABELS),
             "article": article_id, "start": start, "end": end})
        return cursor.fetchall()


# Undo (annotation.decisions.undo calls this for claim events).

def restore(event: Event, article: Article, *, by) -> Claim | ClaimLink | None:
    if event.subject_type == "claimlink":
        return _restore_link(event, article, by=by)
    if event.action == "claim.delete":
        claim = Claim(pk=event.subject_id, article=article, **_fields(event.before))
        claim.version = event.before["version"] + 1
        _refuse_overlap(claim)
        claim.save(force_insert=True)
        before = None
    else:
        claim = Claim.objects.select_for_update(of=("self",)).get(pk=event.subject_id)
        before = claim.snapshot()
        if event.action == "claim.add":
            if claim.links_out.exists() or claim.links_in.exists():
                raise Refused("That claim is linked to other claims now: unlink them first.")
            claim.delete()
            claim.pk = event.subject_id
        else:
            for name, value in _fields(event.before).items():
                setattr(claim, name, value)
            if claim.status != Claim.Status.REJECTED:
                _refuse_overlap(claim)
            claim.version += 1
            claim.save()
    after = None if event.action == "claim.add" else claim.snapshot()
    Event.objects.create(action="claim.undo", subject_type="claim", subject_id=event.subject_id,
                         article=article, actor=by, before=before,
                         after={**(after or {}), "undoes": event.pk})
    if event.action != "claim.add":
        relink_speakers(article.pk)
        return claim
    return None


def _restore_link(event: Event, article: Article, *, by) -> ClaimLink | None:
    current = ClaimLink.objects.select_for_update().filter(pk=event.subject_id).first()
    before = current.snapshot() if current else None
    if event.before is None:  # the link was made: take it away
        if current is not None:
            current.delete()
        restored = None
    else:  # it was removed or its relation changed: put it back as it was
        state = event.before
        restored = current or ClaimLink(pk=event.subject_id)
        restored.claim_id, restored.other_id = state["claim"], state["other"]
        restored.relation = state["relation"]
        restored.evidence_start, restored.evidence_end = state["evidence_start"], state["evidence_end"]
        restored.created_by_id = state["created_by"]
        if not Claim.objects.filter(pk__in=[restored.claim_id, restored.other_id]).count() == 2:
            raise Refused("That link cannot come back: one of its claims is gone.")
        restored.save(force_insert=current is None)
    Event.objects.create(action="claim.undo", subject_type="claimlink", subject_id=event.subject_id,
                         article=article, actor=by, before=before,
                         after={**(restored.snapshot() if restored else {}), "undoes": event.pk})
    return restored


def _fields(snapshot: dict) -> dict:
    return {"start": snapshot["start"], "end": snapshot["end"], "text": snapshot["text"],
            "speaker": snapshot["speaker"], "speaker_start": snapshot["speaker_start"],
            "speaker_end": snapshot["speaker_end"], "cue": snapshot["cue"],
            "direct": snapshot["direct"], "status": snapshot["status"],
            "origin": snapshot["origin"], "credibility": snapshot["credibility"],
            "decided_by_id": snapshot["decided_by"],
            "decided_at": parse_datetime(snapshot["decided_at"]) if snapshot["decided_at"] else None}


# Internals.

def _locked(claim_id: int, version: int, *, editable: bool = True) -> Claim:
    claim = (Claim.objects.select_for_update(of=("self",))
             .select_related("article", "decided_by").get(pk=claim_id))
    if editable:
        decisions.refuse_unless_editable(claim.article, claim, consequence=CLAIMS_LOCKED)
    if claim.version != version:
        raise StaleClaim(claim)
    return claim


def _change(claim_id: int, action: str, *, version: int, by, **changes) -> Claim:
    with decisions.one_transaction():
        return _apply(_locked(claim_id, version), action, by=by, **changes)


def _apply(claim: Claim, action: str, *, by, **changes) -> Claim:
    before = claim.snapshot()
    for name, value in changes.items():
        setattr(claim, name, value)
    if "start" in changes or "end" in changes:
        claim.text = claim.article.text[claim.start:claim.end]
    if "speaker_start" in changes:
        speakers = SpeakerIndex(Mention.objects.filter(article_id=claim.article_id)
                                .select_related("label"))
        claim.speaker_mention = speakers.at(claim.speaker_start, claim.speaker_end)
    claim.decided_by = by
    claim.decided_at = timezone.now()
    claim.version += 1
    if claim.status != Claim.Status.REJECTED:
        _refuse_overlap(claim)
    claim.save()
    Event.record(action, claim, article=claim.article, actor=by, before=before,
                 after=claim.snapshot())
    decisions.start_work(claim.article, by=by)
    return claim


def _touch(claim: Claim, *, by) -> None:
    """Its links changed: the claim's version moves, and the article is being worked on."""
    claim.version += 1
    claim.save(update_fields=["version"])
    decisions.start_work(claim.article, by=by)


def _snapped(article: Article, start: int, end: int, claim: Claim | None = None, *,
             what: str = "claim") -> tuple[int, int]:
    if not (0 <= start < end <= len(article.text)):
        raise Refused("The selection lies outside the article's text.", claim)
    start, end = article_text.snap_to_tokens(article.text, start, end)
    # Quotation marks at either end and final punctuation are not part of it (GUIDELINES K2).
    while start < end and article.text[start] in _OPENING:
        start += 1
    while start < end and article.text[end - 1] in _CLOSING:
        end -= 1
    if start >= end:
        raise Refused("The selection holds no text.", claim)
    _refuse_bad_span(article, start, end, claim, what=what)
    return start, end


def _refuse_bad_span(article: Article, start: int, end: int, claim: Claim | None = None, *,
                     what: str = "claim") -> None:
    if "\n" in article.text[start:end]:
        raise Refused(f"A {what} cannot run across paragraphs: select within one.", claim)
    if start < article.body_start or end > article.body_end:
        raise Refused("That part of the page is not the article (share buttons, comment forms, "
                      "teasers): it holds no claims.", claim)


def _refuse_overlap(claim: Claim) -> None:
    # The database refuses it too (claim_no_overlap); checking first gives a clear message.
    other = (Claim.objects.live().filter(article_id=claim.article_id, start__lt=claim.end,
                                         end__gt=claim.start).exclude(pk=claim.pk).first())
    if other is not None:
        current = Claim.objects.filter(pk=claim.pk).first()
        raise Refused(f"It would overlap the claim “{_short(other.text)}”, which stands: reject "
                      "or narrow that one first.", current)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"
