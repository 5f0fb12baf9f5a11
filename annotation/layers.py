"""Annotation layers: whose mentions and claims a request sees and changes.

Every article has a shared layer (annotator NULL): what the pre-tagger suggests, what analysts
decide, what reviewers approve and what is exported. An article assigned *independently* to
analysts (to measure agreement) also gets one private layer per such analyst, seeded with the
pre-tagger's suggestions, in which that analyst alone works, blind to the others. The reviewer
compares the private layers and adjudicates: the result is written to the shared layer.

Which layer a piece of code works in is a context (a ContextVar) set once per request from the
user and the article; `Mention.objects` and `Claim.objects` (and `article.mentions`,
`article.claims`) see that layer only, and rows made meanwhile belong to it. Code that does not
set it (pre-tagging, imports, exports, pages about the corpus) sees the shared layer, so it
never mixes private work into the corpus.
"""

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current: ContextVar[int | None] = ContextVar("annotation_layer", default=None)
# The independent Assignment behind the private layer in use, once read (see `assignment`).
_held: ContextVar = ContextVar("annotation_layer_assignment", default=None)


def current() -> int | None:
    """The id of the analyst whose private layer is in use, or None for the shared layer."""
    return _current.get()


@contextmanager
def working_in(annotator_id: int | None, *, held=None) -> Iterator[None]:
    """Work in that layer; `held` is its independent Assignment when the caller has it."""
    token, held_token = _current.set(annotator_id), _held.set(held)
    try:
        yield
    finally:
        _current.reset(token)
        _held.reset(held_token)


def held_by(user, article_id: int):
    """The user's independent assignment of this article (their private layer), or None."""
    from annotation.models import Assignment
    from config import rows

    if not getattr(user, "is_authenticated", False):
        return None
    # Plain SQL (config/rows.py): asked on every page and decision of an article, and the ORM
    # took longer to build the query than PostgreSQL to answer it.
    columns = rows.columns(Assignment, "a")
    with rows.cursor() as cursor:
        cursor.execute(f"""SELECT {columns.sql} FROM {Assignment._meta.db_table} a
                           WHERE a.article_id = %s AND a.analyst_id = %s AND a.independent
                           ORDER BY a.created_at, a.id LIMIT 1""", [article_id, user.pk])
        row = cursor.fetchone()
    return columns.make(row) if row is not None else None


def in_layer(view):
    """Run a view about one article (named by article_id, mention_id or claim_id) in the user's
    layer of that article; a mention or claim of another analyst's private layer is a 404."""
    from django.http import Http404

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        article_id, owner, held = _article_owner_and_held(kwargs, request.user)
        if article_id is None:
            return view(request, *args, **kwargs)
        layer = held.analyst_id if held else None
        if owner is not _SHARED_OR_ARTICLE and owner != layer:
            raise Http404("No such mention or claim in your layer of this article.")
        with working_in(layer, held=held):
            return view(request, *args, **kwargs)

    return wrapper


_SHARED_OR_ARTICLE = object()


def _article_owner_and_held(kwargs: dict, user) -> tuple[int | None, object, object]:
    """The article a view is about, the layer its mention or claim is in, and the user's
    independent assignment of the article; a decision on a mention or claim reads all three in
    one query (the assignment itself only when there is one: most articles have none)."""
    from annotation.models import Assignment, Claim, Mention
    from config import rows

    if "article_id" in kwargs:
        return kwargs["article_id"], _SHARED_OR_ARTICLE, held_by(user, kwargs["article_id"])
    for key, model in (("mention_id", Mention), ("claim_id", Claim)):
        if key in kwargs:
            # Plain SQL: every decision runs it, and the ORM took longer to build it than
            # PostgreSQL to answer.
            user_id = user.pk if getattr(user, "is_authenticated", False) else None
            with rows.cursor() as cursor:
                cursor.execute(
                    f"""SELECT r.article_id, r.annotator_id,
                               (SELECT a.id FROM {Assignment._meta.db_table} a
                                WHERE a.article_id = r.article_id AND a.analyst_id = %s
                                      AND a.independent ORDER BY a.created_at, a.id LIMIT 1)
                        FROM {model._meta.db_table} r WHERE r.id = %s""",
                    [user_id, kwargs[key]])
                row = cursor.fetchone()
            if row is None:
                return None, _SHARED_OR_ARTICLE, None
            article_id, owner, held = row
            return article_id, owner, Assignment.objects.get(pk=held) if held else None
    return None, _SHARED_OR_ARTICLE, None


def assignment(article_id: int):
    """The independent assignment behind the private layer in use, or None in the shared one."""
    from annotation.models import Assignment

    if current() is None:
        return None
    held = _held.get()
    if held is None or held.article_id != article_id:  # not read by in_layer: read it now
        held = Assignment.objects.filter(article_id=article_id, analyst_id=current(),
                                         independent=True).first()
        _held.set(held)
    return held


def closed(article_id: int) -> bool:
    """A private layer is closed once its analyst submitted it."""
    held = assignment(article_id)
    return held is not None and held.submitted_at is not None


def seed(held) -> int:
    """Give an independent assignment's private layer the pre-tagger's suggestions (see
    `seed_many`). Returns how many mentions it copied."""
    return seed_many([held])


def seed_many(assignments) -> int:
    """Give independent assignments' private layers the pre-tagger's suggestions of the shared
    layer (machine-made and imported ones, as suggestions nobody has decided on), each once its
    article is pre-tagged: an assignment already seeded is left as it is, and one whose article
    is still new is seeded on a later look. A constant number of queries however many
    assignments. Returns how many mentions it copied."""
    from collections import defaultdict

    from django.db import transaction
    from django.utils import timezone

    from annotation import claim_decisions
    from annotation.models import Assignment, Claim, Mention
    from corpus.models import Article

    unseeded = {held.pk: held for held in assignments if held.seeded_at is None}
    if not unseeded:
        return 0
    with transaction.atomic():
        # Read again and locked: a request seeding the same layer meanwhile waits, then finds it
        # seeded, so no layer is seeded twice.
        due = [unseeded[pk] for pk in Assignment.objects.select_for_update(of=("self",))
               .filter(pk__in=unseeded, seeded_at__isnull=True)
               .exclude(article__status=Article.Status.NEW).values_list("pk", flat=True)]
        if not due:
            return 0
        articles = {held.article_id for held in due}
        machine = ("model", "pattern", "imported")
        mentions, claims = defaultdict(list), defaultdict(list)
        with working_in(None):
            # With their labels: the copies take them, and the speaker index reads them.
            for m in Mention.objects.filter(article_id__in=articles, origin__in=machine).select_related("label"):
                mentions[m.article_id].append(m)
            for c in Claim.objects.filter(article_id__in=articles, origin="model"):
                claims[c.article_id].append(c)
        mentions = {article: _apart(rows) for article, rows in mentions.items()}
        claims = {article: _apart(rows) for article, rows in claims.items()}
        copies = {held.pk: [Mention(article_id=m.article_id, annotator_id=held.analyst_id, start=m.start,
                                    end=m.end, text=m.text, label=m.label, model_label=m.model_label,
                                    origin=m.origin) for m in mentions.get(held.article_id, [])]
                  for held in due}
        Mention.every_layer.bulk_create([m for layer in copies.values() for m in layer])
        claim_copies = []
        for held in due:
            # A copied claim's speaker is the copy of its mention, in the same private layer: the
            # copies have their ids from the INSERT and their labels, so none is read back.
            speakers = claim_decisions.SpeakerIndex(copies[held.pk])
            claim_copies += [
                Claim(article_id=c.article_id, annotator_id=held.analyst_id, start=c.start, end=c.end,
                      text=c.text, speaker=c.speaker, speaker_start=c.speaker_start,
                      speaker_end=c.speaker_end, speaker_mention=speakers.at(c.speaker_start, c.speaker_end),
                      cue=c.cue, direct=c.direct, origin=c.origin)
                for c in claims.get(held.article_id, [])]
        Claim.every_layer.bulk_create(claim_copies)
        now = timezone.now()
        Assignment.objects.filter(pk__in=[held.pk for held in due]).update(seeded_at=now)
        for held in due:
            held.seeded_at = now
    return sum(len(layer) for layer in copies.values())


def _apart(rows: list) -> list:
    """The rows of one article to copy as suggestions, in text order, none overlapping another:
    in the shared layer a rejected suggestion may lie under one that stands, but copies all
    stand. The one that stands is kept."""
    import bisect

    kept: list = []  # in text order, none overlapping: their ends are in order too
    for row in sorted(rows, key=lambda row: row.status == "rejected"):
        at = bisect.bisect_left(kept, row.start, key=lambda other: other.start)
        if (at and kept[at - 1].end > row.start) or (at < len(kept) and kept[at].start < row.end):
            continue
        kept.insert(at, row)
    return kept
