"""Review: assignments, approving, returning with comments, reopening; and what the reviewer
sees of an article (each mention and claim as the model suggested it and as the analyst left it).

Every step locks the article row, checks its status and records an Event in the same transaction.
A reviewer never approves their own work: an article they annotated (any decision on its mentions
or claims, or its submission) waits for another reviewer.
"""

from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Max, Q, QuerySet

from annotation import layers
from annotation.decisions import Refused, move
from annotation.models import Assignment, Claim, Event, Mention, ReviewComment
from config import rows
from corpus.models import Article

# Events that make an article a user's own work (grading a claim's credibility does not: reviewers
# grade as they review).
OWN_WORK = Q(action__startswith="mention.") | Q(action__startswith="link.") | Q(
    action__startswith="claim.") & ~Q(action="claim.grade") | Q(action__in=["article.submit", "article.start"])
MAX_COMMENT = 2000


@dataclass(frozen=True)
class Comment:
    """A comment the reviewer writes when returning: on a mention, a claim, or the whole article."""

    text: str
    mention_id: int | None = None
    claim_id: int | None = None


def is_own_work(article: Article, user) -> bool:
    return Event.objects.filter(OWN_WORK, article=article, actor=user).exists()


def assign(articles: QuerySet, analyst, *, by, independent: bool = False) -> int:
    """Put the articles in the analyst's queue; returns how many were not there yet.
    `independent`: the analyst annotates in a private layer of their own (annotation/layers.py),
    blind to the others, for the reviewer to compare and adjudicate."""
    if not analyst.has_perm("annotation.change_mention"):
        raise Refused(f"{analyst.get_username()} is not an analyst: only analysts annotate.")
    with transaction.atomic():
        taken = set(Assignment.objects.filter(analyst=analyst, article__in=articles)
                    .values_list("article_id", flat=True))
        new = [Assignment(article=article, analyst=analyst, assigned_by=by, independent=independent)
               for article in articles.only("pk", "status") if article.pk not in taken]
        Assignment.objects.bulk_create(new)
        Event.objects.bulk_create(
            Event(action="article.assign", subject_type="article", subject_id=a.article.pk,
                  article=a.article, actor=by,
                  after={"analyst": analyst.get_username(), "independent": independent})
            for a in new)
        if independent:
            layers.seed_many(new)
    return len(new)


def unassign(article: Article, analyst, *, by) -> None:
    with transaction.atomic():
        deleted, _ = Assignment.objects.filter(article=article, analyst=analyst).delete()
        if deleted:
            Event.record("article.unassign", article, article=article, actor=by,
                         before={"analyst": analyst.get_username()})


def approve(article_id: int, *, by) -> Article:
    """Approve a submitted article: it is locked (no decision changes it) until reopened."""
    with transaction.atomic():
        article = _locked(article_id, Article.Status.SUBMITTED, "approved")
        if is_own_work(article, by):
            raise Refused("You annotated this article: another reviewer approves it.")
        if len(layers_of(article)) >= 2 and not article.events.filter(action="article.adjudicate").exists():
            raise Refused("Two analysts annotated this article independently: adjudicate their "
                          "differences first.")
        return move(article, Article.Status.APPROVED, "article.approve", by=by)


def return_article(article_id: int, comments: list[Comment], *, by) -> Article:
    """Send a submitted article back to its analyst with at least one comment."""
    comments = [c for c in comments if c.text.strip()]
    if not comments:
        raise Refused("Say what needs another look: write a comment on the article, a mention or a claim.")
    if any(len(c.text) > MAX_COMMENT for c in comments):
        raise Refused(f"A comment has at most {MAX_COMMENT} characters.")
    with transaction.atomic():
        article = _locked(article_id, Article.Status.SUBMITTED, "returned")
        _check_targets(article, comments)
        round_ = _next_round(article)
        ReviewComment.objects.bulk_create(
            ReviewComment(article=article, author=by, text=c.text.strip(), mention_id=c.mention_id,
                          claim_id=c.claim_id, round=round_) for c in comments)
        return move(article, Article.Status.RETURNED, "article.return", by=by,
                     comments=len(comments), round=round_)


def reopen(article_id: int, reason: str, *, by) -> Article:
    """An approved article goes back to its analyst: an explicit step, with its reason."""
    if not reason.strip():
        raise Refused("Say why the article is reopened: the analyst sees it as a comment.")
    with transaction.atomic():
        article = _locked(article_id, Article.Status.APPROVED, "reopened")
        round_ = _next_round(article)
        ReviewComment.objects.create(article=article, author=by, text=reason.strip()[:MAX_COMMENT],
                                     round=round_)
        # A reopened article is a returned one: the analyst's queue shows it with the reason.
        return move(article, Article.Status.RETURNED, "article.reopen", by=by,
                     reason=reason.strip(), round=round_)


def _locked(article_id: int, status: str, verb: str) -> Article:
    article = Article.objects.select_for_update().get(pk=article_id)
    if article.status != status:
        raise Refused(f"This article is {article.get_status_display()}: only a "
                      f"{Article.Status(status).label} article can be {verb}.")
    return article


def _next_round(article: Article) -> int:
    return (article.review_comments.aggregate(last=Max("round"))["last"] or 0) + 1


def _check_targets(article: Article, comments: list[Comment]) -> None:
    mentions = {c.mention_id for c in comments if c.mention_id}
    claims = {c.claim_id for c in comments if c.claim_id}
    if len(mentions) > article.mentions.filter(pk__in=mentions).count() or len(claims) > (
            article.claims.filter(pk__in=claims).count()):
        raise Refused("A comment points at a mention or claim that is not in this article.")


# What the reviewer sees.

@dataclass
class Change:
    """One mention or claim as the model suggested it (None when an analyst added it) and as it
    stands now, with what the analyst did to it."""

    item: Mention | Claim
    suggested: dict | None
    verdict: str  # added, removed, relabelled, resized, relabelled and resized, confirmed, undecided
    decided_by: str

    @property
    def changed(self) -> bool:
        return self.verdict not in ("confirmed", "undecided")


def changes(article: Article) -> tuple[list[Change], list[Change]]:
    """(mentions, claims) of the article, in text order, each with its verdict: four queries."""
    mentions = list(article.mentions.select_related("label", "decided_by").order_by("start"))
    claims = list(article.claims.select_related("decided_by").order_by("start"))
    first = {("mention", m): b for m, b in _first_states(article, "mention")}
    first |= {("claim", c): b for c, b in _first_states(article, "claim")}
    return ([_change(m, first.get(("mention", m.pk)), label=m.label.name) for m in mentions],
            [_change(c, first.get(("claim", c.pk)), label="") for c in claims])


def _first_states(article: Article, kind: str):
    """Each subject's state before its first decision: what the model suggested."""
    return (Event.objects.filter(article=article, subject_type=kind, before__isnull=False)
            .order_by("subject_id", "created_at", "pk").distinct("subject_id")
            .values_list("subject_id", "before"))


def _change(item: Mention | Claim, before: dict | None, *, label: str) -> Change:
    who = item.decided_by.get_username() if item.decided_by else ""
    if item.origin == "analyst":
        return Change(item, None, "added", who)
    suggested = before or {"start": item.start, "end": item.end, "text": item.text,
                           "label": getattr(item, "model_label", "") or label}
    suggested_label = suggested.get("label") or label
    suggested = {**suggested, "label": suggested_label}
    if item.status == "rejected":
        return Change(item, suggested, "removed", who)
    if item.status == "suggested" and not item.decided_by_id:
        return Change(item, suggested, "undecided", who)
    relabelled = bool(label) and suggested_label != label
    resized = (suggested["start"], suggested["end"]) != (item.start, item.end)
    verdict = ("relabelled and resized" if relabelled and resized else "relabelled" if relabelled
               else "resized" if resized else "confirmed")
    return Change(item, suggested, verdict, who)


def review_queue() -> QuerySet:
    """Submitted articles, oldest submission first."""
    return Article.objects.filter(status=Article.Status.SUBMITTED).with_source().defer("text").order_by(
        "updated_at", "pk")


# An analyst's queue: their articles in these statuses. Waiting for any analyst: these.
QUEUED = (Article.Status.RETURNED, Article.Status.IN_PROGRESS, Article.Status.PRETAGGED,
          Article.Status.NEW)
WAITING = (Article.Status.PRETAGGED, Article.Status.IN_PROGRESS, Article.Status.RETURNED)


def my_queue(user) -> QuerySet:
    """The articles assigned to the user that still wait for them: returned ones first."""
    from django.db.models import Case, IntegerField, Value, When

    return (Article.objects.filter(assignments__analyst=user).filter(status__in=QUEUED)
            .annotate(urgency=Case(When(status=Article.Status.RETURNED, then=Value(0)),
                                   When(status=Article.Status.IN_PROGRESS, then=Value(1)),
                                   default=Value(2), output_field=IntegerField()))
            .with_source().defer("text").order_by("urgency", "pk"))


def last_comments(article: Article) -> list[ReviewComment]:
    """The comments of the article's last return (what the analyst has to answer)."""
    latest = article.review_comments.order_by("-round").values_list("round", flat=True).first()
    if latest is None:
        return []
    return list(article.review_comments.filter(round=latest)
                .select_related("author", "mention__label", "claim"))


def next_for(user, *, after: Article) -> Article | None:
    """The next article for this analyst: their own queue first (as my_queue orders it), then
    the next article waiting after this one, wrapping round to the first. Asked on every
    article page: one plain query (config/rows.py)."""
    status = Article.Status
    table = Article._meta.db_table
    with rows.cursor() as cursor:
        cursor.execute(
            f"""SELECT id, title FROM (
                    (SELECT a.id, a.title, 0 AS turn FROM {table} a
                     JOIN {Assignment._meta.db_table} s ON s.article_id = a.id
                     WHERE s.analyst_id = %(user)s AND a.status = ANY(%(queued)s) AND a.id <> %(after)s
                     ORDER BY CASE a.status WHEN %(returned)s THEN 0 WHEN %(in_progress)s THEN 1
                                            ELSE 2 END, a.id LIMIT 1)
                    UNION ALL
                    (SELECT a.id, a.title, 1 FROM {table} a
                     WHERE a.status = ANY(%(waiting)s) AND a.id > %(after)s ORDER BY a.id LIMIT 1)
                    UNION ALL
                    (SELECT a.id, a.title, 2 FROM {table} a
                     WHERE a.status = ANY(%(waiting)s) AND a.id < %(after)s ORDER BY a.id LIMIT 1)
                ) next ORDER BY turn LIMIT 1""",
            {"user": user.pk, "after": after.pk, "queued": [str(s) for s in QUEUED],
             "waiting": [str(s) for s in WAITING], "returned": str(status.RETURNED),
             "in_progress": str(status.IN_PROGRESS)})
        row = cursor.fetchone()
    return Article.from_db(connection.alias, ["id", "title"], row) if row else None


# Independent annotation: agreement and adjudication.

@dataclass
class Comparison:
    """Two analysts' private layers of one article, side by side."""

    first: str
    second: str
    agreement: dict        # label → agreement.LabelAgreement (mentions, and "CLAIM" for claims)
    kappa: dict            # label → Cohen's kappa on tokens (None when undefined)
    differences: list      # agreement.Difference, mentions then claims, each in text order
    layers: tuple          # the two _LayerSpans compared, A's then B's

    @property
    def rows(self) -> list[tuple]:
        """(label, agreement, kappa) for the page: the labels, claims, then all entities."""
        from annotation.agreement import ALL

        order = sorted(k for k in self.agreement if k not in (ALL, "CLAIM")) + ["CLAIM", ALL]
        return [(label, self.agreement[label], self.kappa.get(label)) for label in order
                if label in self.agreement]

    def choices(self, text: str) -> list[dict]:
        """Each difference with both sides' words and labels, numbered for the form."""
        def side(span):
            return {"text": text[span.start:span.end], "label": span.label} if span else None
        return [{"n": n, "kind": d.kind.replace("_", " "), "a": side(d.a), "b": side(d.b)}
                for n, d in enumerate(self.differences)]


def layers_of(article: Article) -> list:
    """The independent assignments of the article whose analysts submitted their layer."""
    return list(article.assignments.filter(independent=True, submitted_at__isnull=False)
                .select_related("analyst").order_by("analyst__username"))


def compare(article: Article) -> Comparison | None:
    """Agreement between the first two submitted private layers (None with fewer than two)."""
    from annotation import agreement

    held = layers_of(article)
    if len(held) < 2:
        return None
    first, second = (_layer_spans(article, a.analyst_id) for a in held[:2])
    bounds = {"start": article.body_start, "end": article.body_end}
    scores = agreement.span_agreement(first.mentions, second.mentions)
    scores |= {"CLAIM": agreement.span_agreement(first.claims, second.claims)[agreement.ALL]}
    return Comparison(
        held[0].analyst.get_username(), held[1].analyst.get_username(), scores,
        agreement.token_kappa(article.text, first.mentions, second.mentions, **bounds),
        agreement.differences(first.mentions, second.mentions)
        + agreement.differences(first.claims, second.claims), (first, second))


@dataclass
class _LayerSpans:
    mentions: list
    claims: list
    claim_at: dict  # (start, end) → the layer's Claim there, whose speaker and cue adjudication copies


def _layer_spans(article: Article, annotator_id: int) -> _LayerSpans:
    """A private layer's standing mentions and claims as (start, end, label) spans."""
    from annotation.evaluation import Span

    mentions = Mention.every_layer.live().filter(article=article, annotator_id=annotator_id)
    claims = {(c.start, c.end): c for c in Claim.every_layer.live().filter(article=article,
                                                                          annotator_id=annotator_id)}
    return _LayerSpans(
        [Span(start, end, label) for start, end, label in mentions.values_list("start", "end", "label__name")],
        [Span(start, end, "CLAIM") for start, end in claims], claims)


def adjudicate(article_id: int, choices: dict[int, str], *, by) -> Article:
    """Write the shared layer from two private layers: what both analysts marked alike, and for
    each difference (numbered as `compare` lists them) the side the reviewer chose ("a", "b" or
    "neither"). Shared mentions and claims left out are rejected; those kept are confirmed. The
    article stays submitted, for the reviewer to approve."""
    from annotation import claim_decisions, linking
    from annotation.models import Label

    with transaction.atomic():
        article = _locked(article_id, Article.Status.SUBMITTED, "adjudicated")
        comparison = compare(article)
        if comparison is None:
            raise Refused("Two analysts must submit their own annotation before it can be adjudicated.")
        missing = [n for n in range(len(comparison.differences)) if choices.get(n) not in ("a", "b", "neither")]
        if missing:
            raise Refused(f"Choose a side for every difference ({len(missing)} left).")
        empty = [n + 1 for n, d in enumerate(comparison.differences)
                 if choices[n] != "neither" and getattr(d, choices[n]) is None]
        if empty:
            raise Refused(f"Difference {empty[0]} has nothing on the side chosen: keep the other "
                          "side, or neither.")
        first, second = comparison.layers
        chosen = [getattr(d, choices[n]) for n, d in enumerate(comparison.differences)
                  if choices[n] != "neither"]
        final = (set(first.mentions) & set(second.mentions)) | {s for s in chosen if s.label != "CLAIM"}
        final_claims = (set(first.claims) & set(second.claims)) | {s for s in chosen if s.label == "CLAIM"}
        labels = {label.name: label for label in Label.objects.all()}
        # With their entities: linking reads a kept mention's to know if its link still holds.
        shared = Mention.objects.filter(article=article).select_related("label", "entity")
        mentions = _adjudicate_rows(article, shared, final, by=by, make=lambda s: Mention(
                                        article=article, start=s.start, end=s.end, text=article.text[s.start:s.end],
                                        label=labels[s.label], origin=Mention.Origin.ANALYST),
                                    relabel=lambda m, s: setattr(m, "label", labels[s.label]))
        from_second = {(d.b.start, d.b.end) for n, d in enumerate(comparison.differences)
                       if choices[n] == "b" and d.b.label == "CLAIM"}
        _adjudicate_rows(article, Claim.objects.filter(article=article), final_claims, by=by,
                         make=lambda s: _claim_like(article, (second if (s.start, s.end) in from_second
                                                              else first).claim_at.get((s.start, s.end)), s))
        # Entity links follow by rule, as the system's doing.
        linking.link_many(mentions, by=None, article_mentions=mentions)
        claim_decisions.relink_speakers(article.pk)
        Event.record("article.adjudicate", article, article=article, actor=by,
                     after={"mentions": len(final), "claims": len(final_claims),
                            "layers": [comparison.first, comparison.second]})
    return article


def _adjudicate_rows(article: Article, rows: QuerySet, final: set, *, by, make, relabel=None) -> list:
    """Reject the shared rows not in `final`, confirm those in it (creating the missing ones), in
    a constant number of queries: the rejections in one UPDATE, the new rows in one INSERT, the
    confirmations in one UPDATE and every Event in one INSERT. Returns the rows kept."""
    from django.utils import timezone

    from annotation.evaluation import Span

    model = rows.model
    label_of = (lambda row: row.label.name) if relabel else (lambda row: "CLAIM")
    rejected, at = [], {}  # rejected: (row, its snapshot before)
    for row in rows:
        row.article = article  # which it is: linking then reads it without a query
        span = Span(row.start, row.end, label_of(row))
        if (span in final or (relabel and _same_place(row, final))) and (row.start, row.end) not in at:
            at[(row.start, row.end)] = row
        elif row.status != "rejected":
            rejected.append((row, _decide(row, "rejected", by=by)))
    decided = ["status", "decided_by", "decided_at", "version"]
    # Rejections first, so nothing standing is in the way of what comes.
    model.objects.bulk_update([row for row, _ in rejected], decided)
    kept, new = [], []  # kept: (row, its snapshot before, or None for a new row)
    for span in sorted(final, key=lambda s: (s.start, s.end)):
        row = at.get((span.start, span.end))
        if row is None:
            row = make(span)
            row.status, row.decided_by, row.decided_at = "confirmed", by, timezone.now()
            new.append(row)
            kept.append((row, None))
        else:
            before = row.snapshot()  # the label it had, if the reviewer's side relabels it
            if relabel:
                relabel(row, span)
            _decide(row, "confirmed", by=by)
            kept.append((row, before))
    model.objects.bulk_create(new)  # PostgreSQL returns their ids, for their Events
    model.objects.bulk_update([row for row, before in kept if before is not None],
                              decided + (["label"] if relabel else []))
    Event.objects.bulk_create(
        Event(action=f"adjudicate.{row._meta.model_name}", subject_type=row._meta.model_name,
              subject_id=row.pk, article=article, actor=by, before=before, after=row.snapshot())
        for row, before in [*rejected, *kept])
    return [row for row, _ in kept]


def _same_place(row, final: set) -> bool:
    return any((s.start, s.end) == (row.start, row.end) for s in final)


def _decide(row, status: str, *, by) -> dict:
    """Decide the row in memory (the caller writes it); returns its snapshot from before."""
    from django.utils import timezone

    before = row.snapshot()
    row.status, row.decided_by, row.decided_at, row.version = status, by, timezone.now(), row.version + 1
    return before


def _claim_like(article: Article, model: Claim | None, span) -> Claim:
    """A shared claim over the chosen span, with the speaker and cue of the analyst's claim."""
    fields = {} if model is None else {
        "speaker": model.speaker, "speaker_start": model.speaker_start, "speaker_end": model.speaker_end,
        "cue": model.cue, "direct": model.direct}
    return Claim(article=article, start=span.start, end=span.end, text=article.text[span.start:span.end],
                 origin=Claim.Origin.ANALYST, **fields)
