import bisect
import functools
import json
import re
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from types import SimpleNamespace

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.postgres.search import TrigramSimilarity
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Case, CharField, F, Func, Q, QuerySet, Value, When
from django.db.models.functions import Greatest, Substr
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET
from django_htmx.http import HttpResponseClientRedirect

from annotation import claim_pages, corroboration, decisions, layers, linking, review
from annotation.idempotency import decision_view
from annotation.models import Claim, Credibility, Entity, Label, Mention, Reliability
from config import rows
from config.rows import Columns, split
from corpus.models import Article, Source

PAGE = "annotation/article_detail.html"
# A second cue besides colour, one per label in order (colour-blind users).
BORDER_STYLES = ["solid", "dashed", "dotted", "double"]


@dataclass
class LabelGroup:
    """One label's line in the legend and its section of the side list. A fragment that shows
    only the legend gets the counts from the database instead of every mention."""

    label: Label
    mentions: list[Mention]
    counts: dict[str, int] | None = None  # status → mentions, when `mentions` is not loaded

    @property
    def confirmed(self) -> int:
        if self.counts is not None:
            return self.counts.get(Mention.Status.CONFIRMED, 0)
        return sum(1 for m in self.mentions if m.status == Mention.Status.CONFIRMED)

    @property
    def drawn(self) -> bool:
        """Its mentions are loaded: a relabel's answer redraws only the groups it changed."""
        return self.counts is None

    @property
    def suggested(self) -> list[Mention]:
        return [m for m in self.mentions if m.status == Mention.Status.SUGGESTED]

    @property
    def undecided(self) -> int:
        if self.counts is not None:
            return self.counts.get(Mention.Status.SUGGESTED, 0)
        return len(self.suggested)


@dataclass
class Segment:
    text: str
    mention: Mention | None = None
    boilerplate: bool = False
    start: int = 0


@dataclass
class Run:
    """Consecutive segments inside one claim (or inside none): the claims layer of the text."""

    segments: list[Segment]
    claim: Claim | None = None


@dataclass
class Tally:
    """Every label, in order, and an article's mentions of each (in the layer in use): counted
    as (label id, status, count), and its suggestions as (pk, version) in text order, what a
    list's "Confirm all" sends."""

    labels: list[Label]
    counts: list[tuple[int, str, int]]
    suggested: dict[int, list[tuple[int, int]]]


@require_GET
def label_css(request: HttpRequest) -> HttpResponse:
    """The labels' colours as a style sheet: labels are data, and no inline style is needed."""
    rules = []
    for index, label in enumerate(Label.objects.all()):
        name, colour = label.name.lower(), label.colour
        border = BORDER_STYLES[index % len(BORDER_STYLES)]
        rules.append(
            f".label-{name}.mark {{ background: {colour}24; border-bottom: 3px {border} {colour}; }}\n"
            f".label-{name}.mark.is-confirmed {{ background: {colour}5c; }}\n"
            f".swatch.label-{name} {{ background: {colour}; color: #fff; }}\n"
            f".label-{name}.mark::after {{ color: {colour}; }}\n")
    response = HttpResponse("".join(rules), content_type="text/css")
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
@login_required
@permission_required("corpus.view_article", raise_exception=True)
@layers.in_layer
def article_detail(request: HttpRequest, article_id: int) -> HttpResponse:
    article = get_object_or_404(Article.objects.with_source(), pk=article_id)
    held = layers.assignment(article.pk)
    if held is not None and held.seeded_at is None:
        layers.seed(held)  # the first look at a private layer once the article is pre-tagged
    context = _page_context(article)
    user = request.user
    context.update(
        private_layer=held,
        editable=(context["editable"] and user.has_perm("annotation.change_mention")
                  and not (held and held.submitted_at)),
        next_article=review.next_for(user, after=article),
        review_comments=review.last_comments(article) if article.status == Article.Status.RETURNED else [],
        can_review=article.status == Article.Status.SUBMITTED and user.has_perm("corpus.review_article"),
        can_reopen=article.status == Article.Status.APPROVED and user.has_perm("corpus.reopen_article"))
    return TemplateResponse(request, PAGE, context)


# Decisions on one mention. Each answers with the fragments that changed, out of band.

@decision_view("annotation.change_mention")
def confirm_mention(request: HttpRequest, mention_id: int) -> HttpResponse:
    return _on_mention(request, mention_id, decisions.confirm)


@decision_view("annotation.change_mention")
def reject_mention(request: HttpRequest, mention_id: int) -> HttpResponse:
    return _on_mention(request, mention_id, decisions.reject)


@decision_view("annotation.change_mention")
def relabel_mention(request: HttpRequest, mention_id: int) -> HttpResponse:
    label = _label_named(request.POST.get("label", ""))
    if label is None:
        return _invalid("Choose one of the labels.")
    return _on_mention(request, mention_id, decisions.relabel, label, layers=PANEL)


@decision_view("annotation.change_mention")
def resize_mention(request: HttpRequest, mention_id: int) -> HttpResponse:
    if (move := _move(request)) is None:
        return _invalid(MOVE_ERROR)
    return _on_mention(request, mention_id, decisions.resize, **move, layers=True)


@decision_view("annotation.delete_mention")
def delete_mention(request: HttpRequest, mention_id: int) -> HttpResponse:
    return _on_mention(request, mention_id, decisions.delete, layers=True)


# Decisions on an article.

@decision_view("annotation.add_mention")
def add_mention(request: HttpRequest, article_id: int) -> HttpResponse:
    label = _label_named(request.POST.get("label", ""))
    try:
        start, end = int(request.POST["start"]), int(request.POST["end"])
    except (KeyError, ValueError):
        return _invalid("A new mention needs its start and end offsets.")
    if label is None:
        return _invalid("Choose one of the labels.")
    try:
        mention = decisions.add(article_id, start, end, label, by=request.user)
    except Article.DoesNotExist:
        raise Http404("No such article.") from None
    except decisions.Refused as refused:
        return _respond(request, get_object_or_404(Article, pk=article_id), message=str(refused),
                        status=HTTPStatus.CONFLICT, layers=TEXT)
    article = mention.article  # read, locked, and put in progress by the decision itself
    if not request.htmx or (around := _around(mention)) is None:
        return _respond(request, article, layers=TEXT, fresh=True)
    # Its characters lie in one run of plain text: the page draws the mark there (annotate.js,
    # on this event, before the fragments are swapped in) and gets the mark, its row put in
    # place in its label's list (or that list, if it was empty) and the counts; not the whole
    # text and side list.
    if (placement := _placement(mention, around)) is None:
        response = _respond(request, article, mention=mention, layers=PANEL, groups={label.name},
                            fresh=True)
    else:
        response = _respond(request, article, mention=mention, layers=PLACED, placement=placement,
                            fresh=True)
    response["HX-Trigger"] = json.dumps({"sourcemark:mention-added": {
        "id": mention.pk, "start": mention.start, "end": mention.end}})
    return response


def _placement(mention: Mention, others: list[tuple[int, int, int]]) -> str | None:
    """Where a new or moved mention's row goes in its label's list, in text order, as htmx's
    out-of-band swap and target, from the list's other rows as (pk, start, end): before the next
    row, or at the list's end; None if the list was empty (it says "None", and is drawn again)."""
    if not others:
        return None
    later = [(start, end, pk) for pk, start, end in others if (start, end) > (mention.start, mention.end)]
    if later:
        return f"beforebegin:#mention-row-{min(later)[2]}"
    return f"beforeend:#group-{mention.label.name.lower()} .mention-list"


def _around(mention: Mention) -> list[tuple[int, int, int]] | None:
    """For a new mention lying, on the page, in one run of plain text (no other mark drawn over
    any of its characters, a rejected one included, as it gives way to the new one; no claim's
    edge inside it): the other rows of its label's list as (pk, start, end), for _placement.
    None if it does not lie so. One plain query (config/rows.py)."""
    start, end, article, layer = mention.start, mention.end, mention.article_id, layers.current()
    with rows.cursor() as cursor:
        cursor.execute(
            f"""SELECT m.id, m.start, m."end" FROM {Mention._meta.db_table} m
                WHERE m.article_id = %(article)s AND m.annotator_id IS NOT DISTINCT FROM %(layer)s
                      AND m.label_id = %(label)s AND m.id <> %(mention)s
                UNION ALL
                SELECT NULL, NULL, NULL WHERE EXISTS (
                    SELECT 1 FROM {Mention._meta.db_table} m
                    WHERE m.article_id = %(article)s AND m.annotator_id IS NOT DISTINCT FROM %(layer)s
                          AND m.start < %(end)s AND m."end" > %(start)s AND m.id <> %(mention)s
                    UNION ALL
                    SELECT 1 FROM {Claim._meta.db_table} c
                    WHERE c.article_id = %(article)s AND c.annotator_id IS NOT DISTINCT FROM %(layer)s
                          AND ((c.start > %(start)s AND c.start < %(end)s)
                               OR (c."end" > %(start)s AND c."end" < %(end)s)))""",
            {"article": article, "layer": layer, "label": mention.label_id, "mention": mention.pk,
             "start": start, "end": end})
        found = cursor.fetchall()
    if any(pk is None for pk, _, _ in found):  # something is drawn over it, or cuts it
        return None
    return found


@decision_view("annotation.change_mention")
def undo_decision(request: HttpRequest, article_id: int) -> HttpResponse:
    article = get_object_or_404(Article, pk=article_id)
    return _on_article(request, article, lambda: decisions.undo(article.pk, by=request.user))


@decision_view("annotation.change_mention")
def confirm_all(request: HttpRequest, article_id: int) -> HttpResponse:
    article = get_object_or_404(Article, pk=article_id)
    label = _label_named(request.POST.get("label", ""))
    try:
        seen = dict(map(int, pair.split(":")) for pair in request.POST.getlist("seen"))
    except ValueError:
        return _invalid("Each seen mention is sent as id:version.")
    if label is None:
        return _invalid("Choose one of the labels.")
    return _on_article(request, article, lambda: decisions.confirm_all(
        article.pk, label, seen=seen, by=request.user))


@decision_view("corpus.change_article")
def submit_article(request: HttpRequest, article_id: int) -> HttpResponse:
    article = get_object_or_404(Article, pk=article_id)
    try:
        decisions.submit(article.pk, by=request.user,
                         even_if_undecided=request.POST.get("even_if_undecided") == "1")
    except decisions.NeedsConfirmation as pending:
        return _respond(request, article, partial="submit-confirm", undecided=pending.undecided)
    except decisions.Refused as refused:
        return _respond(request, article, message=str(refused), status=HTTPStatus.CONFLICT)
    return _respond(request, article, message="Submitted for review. Thank you.", layers=True)


def _on_mention(request: HttpRequest, mention_id: int, decide, *args, layers: bool | str = False,
                **kwargs):
    try:
        version = int(request.POST["version"])
    except (KeyError, ValueError):
        return _invalid("A decision needs the version of the mention it was based on.")
    status, message = HTTPStatus.OK, ""
    try:
        # The decision reads the mention and its article, locked: they are current after it.
        mention = decide(mention_id, *args, version=version, by=request.user, **kwargs)
    except Mention.DoesNotExist:
        raise Http404("No such mention.") from None
    except decisions.Refused as refused:
        status, message = HTTPStatus.CONFLICT, str(refused)
        mention = refused.current or get_object_or_404(Mention.objects.select_related("article"),
                                                       pk=mention_id)
        layers = layers or refused.current is None
        return _respond(request, mention.article, mention=mention, message=message, status=status,
                        layers=layers)
    if layers == PANEL and request.htmx:
        return _moved(request, mention)
    if layers or not request.htmx:
        return _respond(request, mention.article, mention=mention, layers=layers, fresh=True)
    tally = _tally(mention.article)
    return _respond(request, mention.article, mention=mention, fresh=True, tally=tally,
                    head=_suggestions_head(mention, tally))


def _suggestions_head(mention: Mention, tally: Tally) -> "LabelGroup | None":
    """The head of the mention's list, with its "Confirm all" of the list's suggestions, when the
    decision made the mention a suggestion or no longer one (its row alone is drawn again)."""
    before = getattr(mention, "before", None)
    suggested = Mention.Status.SUGGESTED
    if before is None or (before["status"] == suggested) == (mention.status == suggested):
        return None
    return _head(mention.label, [(pk, version, suggested)
                                 for pk, version in tally.suggested.get(mention.label_id, [])])


def _head(label: Label, listed) -> LabelGroup:
    """A list's head from its rows as (pk, version, status): what its "Confirm all" needs."""
    return LabelGroup(label, [SimpleNamespace(pk=pk, version=version, status=status)
                              for pk, version, status in listed])


def _moved(request: HttpRequest, mention: Mention) -> HttpResponse:
    """A relabel's answer: the row leaves its old list and is put in place in the new one (a list
    left or found empty is drawn again), the old list's "Confirm all" is drawn again if the
    mention was one of its suggestions, and the mark; not the whole lists."""
    before = mention.before
    tally = _tally(mention.article)
    if before["label"] == mention.label.name:  # confirmed with its own label: only its row
        return _respond(request, mention.article, mention=mention, fresh=True, tally=tally,
                        head=_suggestions_head(mention, tally))
    old = next(label for label in tally.labels if label.name == before["label"])
    rest, joined = [], []  # the old list's other rows; the new list's (pk, start, end)
    with rows.cursor() as cursor:  # plain SQL (config/rows.py): every relabel reads them
        cursor.execute(
            f"""SELECT m.id, m.version, m.status, m.label_id, m.start, m."end"
                FROM {Mention._meta.db_table} m
                WHERE m.article_id = %s AND m.annotator_id IS NOT DISTINCT FROM %s
                      AND m.label_id IN (%s, %s) AND m.id <> %s
                ORDER BY m.start, m."end\"""",
            [mention.article_id, layers.current(), old.pk, mention.label_id, mention.pk])
        both = cursor.fetchall()
    for pk, version, status, label_id, start, end in both:
        if label_id == old.pk:
            rest.append((pk, version, status))
        else:
            joined.append((pk, start, end))
    placement = _placement(mention, joined)
    redrawn = {name for name, empty in ((old.name, not rest), (mention.label.name, placement is None))
               if empty}
    head = None
    if rest and before["status"] == Mention.Status.SUGGESTED:  # its "Confirm all" counted it
        head = _head(old, rest)
    return _respond(request, mention.article, mention=mention, layers=MOVED, fresh=True,
                    groups=redrawn, placement=placement, head=head, tally=tally)


def _on_article(request: HttpRequest, article: Article, decide) -> HttpResponse:
    status, message = HTTPStatus.OK, ""
    try:
        decide()
    except decisions.Refused as refused:
        status, message = HTTPStatus.CONFLICT, str(refused)
    return _respond(request, article, message=message, status=status, layers=True)


# A decision's answer redraws its mention's mark and row (layers False), or with PANEL its
# mark and the side list's groups (`groups`: label names, all if None: a refused relabel, an add
# into an empty list), or with MOVED a relabelled mention's row moved from one list to another,
# or with TEXT the text and the side list (a new mention), or with PLACED a new mention's mark
# and row (the page draws the mark over its characters), or with layers True the text, both
# lists and the counts.
PANEL, TEXT = "panel", "text"
PLACED, MOVED = "placed", "moved"


def _respond(request: HttpRequest, article: Article, *, mention: Mention | None = None,
             message: str = "", status: int = HTTPStatus.OK, layers: bool | str = False,
             partial: str = "decision", fresh: bool = False, groups: set[str] | None = None,
             tally: Tally | None = None, **extra) -> HttpResponse:
    if not fresh:  # `fresh`: the article was read, locked, by the decision itself
        article.refresh_from_db(fields=["status"])
    if not request.htmx:
        if message:
            messages.warning(request, message)
        anchor = f"#mention-row-{mention.pk}" if mention else ""
        return redirect(article.get_absolute_url() + anchor)
    context = {**_page_context(article, text=layers in (True, TEXT),
                               side_list=bool(layers) and layers != PLACED,
                               groups=groups if layers in (PANEL, MOVED) else None, tally=tally),
               "mention": mention, "message": message, "oob": True,
               "layers": layers, **extra}
    if (relinked := getattr(mention, "relinked", None)) and layers is not True:
        # Claims whose speaker the decision changed: their rows (who speaks, linked to what),
        # unless the whole claim list is drawn again. The text shows no speaker's link.
        claims = context["claims"] or _summarised(_page_claims(article, relinked))
        context["relinked_claims"] = [claim for claim in claims if claim.pk in relinked]
    if extra.get("claim_id"):
        from annotation.claim_views import links_context

        claim = next((c for c in context["claims"] if c.pk == extra["claim_id"]), None)
        context.update(links_context(request, claim, claim.summary if claim else None),
                       claim_links_oob=True)
    return TemplateResponse(request, f"{PAGE}#{partial}", context, status=status)


MOVE_ERROR = "Say which edge moves which way: grow-start, shrink-start, grow-end or shrink-end."


def _move(request: HttpRequest) -> dict | None:
    """A resize's `move` ("grow-start" …) as the decision's edge and grow arguments."""
    move = request.POST.get("move", "")
    if move not in ("grow-start", "shrink-start", "grow-end", "shrink-end"):
        return None
    grow, edge = move.split("-")
    return {"edge": edge, "grow": grow == "grow"}


def _invalid(message: str) -> HttpResponse:
    return HttpResponse(message, status=HTTPStatus.UNPROCESSABLE_ENTITY, content_type="text/plain")


def _page_context(article: Article, *, text: bool = True, side_list: bool = False,
                  groups: set[str] | None = None, tally: Tally | None = None) -> dict:
    """What the page and its fragments show; without `text`, neither the marked-up text and its
    claims nor (unless `side_list`) the list of mentions: a decision on one mention sends back
    its mark, its row and the counts. With `groups` (label names), the side list holds only
    those labels' mentions, and the others' counts. `tally`: the labels and counts, if read."""
    every_group = text or (side_list and groups is None)
    if tally is None and not every_group:  # some or all counted: labels and counts at once
        tally = _tally(article)
    labels = tally.labels if tally is not None else list(Label.objects.all())
    counts = tally.counts if tally is not None else None
    if every_group:
        groups = {label.name for label in labels}
    drawn = [label.pk for label in labels if label.name in (groups or ())]
    counted = [label.pk for label in labels if label.pk not in drawn]  # counts, not mentions
    by_label = {label.pk: LabelGroup(label, [], counts={} if label.pk in counted else None)
                for label in labels}
    mentions = []
    if drawn:
        mentions = article.mentions.for_page()
        mentions = list(mentions.filter(label_id__in=drawn) if counted else mentions)
    for mention in mentions:
        mention.label = by_label[mention.label_id].label  # read once, with the labels
        by_label[mention.label_id].mentions.append(mention)
    if counted and counts is None:
        counts = (article.mentions.filter(label_id__in=counted) if drawn else article.mentions
                  ).status_counts()
    for label_id, status, count in counts or ():
        if label_id in counted:
            by_label[label_id].counts[status] = count
    claims = _summarised(_page_claims(article)) if text else []
    return {"article": article, "labels": labels, "groups": list(by_label.values()),
            "runs": _runs(_segments(article, mentions), claims) if text else [],
            "claims": claims, "credibility_choices": Credibility.choices,
            "editable": article.status in decisions.EDITABLE and not layers.closed(article.pk),
            # Rows are many: their URLs and keys are put together from these, not reversed each.
            "mentions_url": _mentions_url(), "render_stamp": uuid.uuid4().hex[:12]}


_LABEL = Columns(Label, "l")


def _label_named(name: str) -> Label | None:
    """The label a decision names, or None (plain SQL: config/rows.py)."""
    with rows.cursor() as cursor:
        cursor.execute(f"SELECT {_LABEL.sql} FROM {Label._meta.db_table} l WHERE l.name = %s", [name])
        row = cursor.fetchone()
    return _LABEL.make(row) if row else None


def _tally(article: Article) -> Tally:
    """What every decision's answer shows of the labels, in one plain query (config/rows.py)."""
    with rows.cursor() as cursor:
        cursor.execute(
            f"""SELECT {_LABEL.sql}, m.status, count(m.id),
                       array_agg(ARRAY[m.id, m.version] ORDER BY m.start, m."end")
                           FILTER (WHERE m.status = %s)
                FROM {Label._meta.db_table} l
                LEFT JOIN {Mention._meta.db_table} m ON m.label_id = l.id AND m.article_id = %s
                                                     AND m.annotator_id IS NOT DISTINCT FROM %s
                GROUP BY l.id, m.status ORDER BY l."order", l.name""",
            [Mention.Status.SUGGESTED, article.pk, layers.current()])
        found = cursor.fetchall()
    labels, counts, suggested = {}, [], {}
    for row in found:
        *label, status, count, pairs = row
        if (label_id := label[_LABEL.pk]) not in labels:
            labels[label_id] = _LABEL.make(label)
        if status is not None:
            counts.append((label_id, status, count))
        if pairs:
            suggested[label_id] = [(pk, version) for pk, version in pairs]
    return Tally(list(labels.values()), counts, suggested)


# The claims a page or an answer draws, with what their rows show, in plain SQL (as _tally).
_CLAIM, _SPEAKER, _SPOKEN_BY = Columns(Claim, "c"), Columns(Mention, "sm"), Columns(Entity, "e")
_GRADER, _SOURCE = Columns(get_user_model(), "g"), Columns(Source, "s")


def _page_claims(article: Article, ids: list[int] | None = None) -> list[Claim]:
    """The article's claims in the layer in use (only those of `ids`, if given), in text order,
    with what their rows and panels show: the speaker's mention and its entity, and who graded
    them. The article's source comes along unless it was read: their summaries name it. One
    plain query (config/rows.py): the ORM took several times as long to build it."""
    source = article.source_id is not None and not Article.source.is_cached(article)
    parts = [_CLAIM, _SPEAKER, _SPOKEN_BY, _GRADER, *([_SOURCE] if source else [])]
    with rows.cursor() as cursor:
        cursor.execute(
            f"""SELECT {", ".join(part.sql for part in parts)}
                FROM {Claim._meta.db_table} c
                LEFT JOIN {Mention._meta.db_table} sm ON sm.id = c.speaker_mention_id
                LEFT JOIN {Entity._meta.db_table} e ON e.id = sm.entity_id
                LEFT JOIN {_GRADER.model._meta.db_table} g ON g.id = c.graded_by_id
                {f"LEFT JOIN {Source._meta.db_table} s ON s.id = %(source)s" if source else ""}
                WHERE c.article_id = %(article)s AND c.annotator_id IS NOT DISTINCT FROM %(layer)s
                      {"AND c.id = ANY(%(ids)s)" if ids is not None else ""}
                ORDER BY c.start, c."end\"""",
            {"article": article.pk, "layer": layers.current(), "ids": ids,
             "source": article.source_id})
        found = cursor.fetchall()
    claims = []
    for row in found:
        values = split(row, *parts)
        claim = _CLAIM.make(values[0])
        claim.article = article
        speaker = _SPEAKER.make(values[1]) if claim.speaker_mention_id else None
        claim.speaker_mention = speaker
        if speaker is not None:
            speaker.entity = _SPOKEN_BY.make(values[2]) if speaker.entity_id else None
        claim.graded_by = _GRADER.make(values[3]) if claim.graded_by_id else None
        if source and not claims:
            article.source = _SOURCE.make(values[4])
        claims.append(claim)
    return claims


def _summarised(claims: list[Claim]) -> list[Claim]:
    """The claims, each with its summary (sources, links). They come with their article (the
    page's) and speakers (_page_claims): the summaries need not read them."""
    summaries = {summary.claim.pk: summary
                 for summary in corroboration.summaries(claims, loaded=True)}
    for claim in claims:
        claim.summary = summaries.get(claim.pk)
    return claims


@functools.cache
def _mentions_url() -> str:
    """"/mentions/": the common start of every mention action's URL."""
    return reverse("annotation:confirm_mention", args=[0]).removesuffix("0/confirm/")


def _segments(article: Article, mentions: list[Mention]) -> list[Segment]:
    """The text cut into plain runs and marks. A rejected mention is drawn only where no standing
    mention covers the same characters."""
    standing = [m for m in mentions if m.status != Mention.Status.REJECTED]  # never overlap
    standing.sort(key=lambda m: m.start)
    starts = [m.start for m in standing]
    shown, last_rejected_end = list(standing), -1
    for mention in sorted((m for m in mentions if m.status == Mention.Status.REJECTED),
                          key=lambda m: m.start):
        before = bisect.bisect_left(starts, mention.end)  # standing mentions starting before its end
        if (before and standing[before - 1].end > mention.start) or mention.start < last_rejected_end:
            continue
        shown.append(mention)
        last_rejected_end = mention.end
    shown.sort(key=lambda m: m.start)
    text, segments, position = article.text, [], 0
    if article.body_start:
        segments.append(Segment(text[:article.body_start], boilerplate=True))
        position = article.body_start
    for mention in shown:
        if mention.start > position:
            segments.append(Segment(text[position:mention.start], start=position))
        segments.append(Segment(text[mention.start:mention.end], mention, start=mention.start))
        position = mention.end
    if position < article.body_end:
        segments.append(Segment(text[position:article.body_end], start=position))
        position = article.body_end
    if position < len(text):
        segments.append(Segment(text[position:], boilerplate=True, start=position))
    return segments


def _runs(segments: list[Segment], claims: list[Claim]) -> list[Run]:
    """Group the segments by the standing claim they lie in. Plain text is cut at a claim's
    edges; a mark is never cut, and belongs to the claim its first character is in."""
    standing = sorted((c for c in claims if c.status != Claim.Status.REJECTED), key=lambda c: c.start)
    if not standing:
        return [Run(segments)]
    edges = sorted({edge for claim in standing for edge in (claim.start, claim.end)})
    starts = [claim.start for claim in standing]

    def claim_at(position: int) -> Claim | None:
        index = bisect.bisect_right(starts, position) - 1
        return standing[index] if index >= 0 and position < standing[index].end else None

    runs: list[Run] = []
    for segment in segments:
        pieces = [segment]
        if segment.mention is None and not segment.boilerplate:
            end = segment.start + len(segment.text)
            cuts = [e for e in edges[bisect.bisect_right(edges, segment.start):] if e < end]
            bounds = [segment.start, *cuts, end]
            pieces = [Segment(segment.text[a - segment.start:b - segment.start], start=a)
                      for a, b in zip(bounds, bounds[1:])]
        for piece in pieces:
            claim = None if piece.boilerplate else claim_at(piece.start)
            if runs and runs[-1].claim is claim:
                runs[-1].segments.append(piece)
            else:
                runs.append(Run([piece], claim))
    return runs


# Links from confirmed mentions to their entities (annotation.linking).

@decision_view("annotation.change_mention")
def accept_link(request: HttpRequest, mention_id: int) -> HttpResponse:
    return _on_link(request, mention_id, lambda mention: linking.accept(mention, by=request.user))


@decision_view("annotation.change_mention")
def clear_link(request: HttpRequest, mention_id: int) -> HttpResponse:
    return _on_link(request, mention_id, lambda mention: linking.clear(mention, by=request.user))


@decision_view("annotation.change_mention")
def change_link(request: HttpRequest, mention_id: int) -> HttpResponse:
    name = request.POST.get("name", "").strip()
    if error := _name_error(name):
        return _invalid(error)
    return _on_link(request, mention_id, lambda mention: linking.change(mention, name, by=request.user))


def _on_link(request: HttpRequest, mention_id: int, act) -> HttpResponse:
    with transaction.atomic():
        # Nullable joins cannot be locked: lock the mention only.
        mention = get_object_or_404(Mention.objects.select_for_update(of=("self",))
                                    .select_related("article", "label", "entity"), pk=mention_id)
        refusal = _link_refusal(mention)
        if refusal is None:
            act(mention)
    if refusal:
        return _respond(request, mention.article, mention=mention, message=refusal,
                        status=HTTPStatus.CONFLICT)
    return _respond(request, mention.article, mention=mention)


def _link_refusal(mention: Mention) -> str | None:
    if mention.article.status not in decisions.EDITABLE:
        return (f"This article is {mention.article.get_status_display()}: its links can no longer "
                "be changed.")
    if mention.status != Mention.Status.CONFIRMED or mention.label.name not in linking.LINKED_LABELS:
        return f"“{mention.text}” is not a confirmed actor, group or place: it links to no entity."
    return None


def _name_error(name: str) -> str | None:
    limit = Entity._meta.get_field("name").max_length
    if not linking.normalise_name(name):
        return "Give the name of the entity."
    if len(name) > limit:
        return f"An entity name has at most {limit} characters."
    return None


# Entities: the canonical things mentions refer to.

ENTITY_PAGE = "annotation/entity_detail.html"
# Characters fetched on each side of a mention to find the sentence around it.
CONTEXT_WINDOW = 400
# Looser than the linker's: a search shows the near misses too, best first.
SEARCH_SIMILARITY = 0.3
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|\n+")


@dataclass
class SentenceAround:
    before: str
    text: str
    after: str


@require_GET
@login_required
@permission_required("corpus.view_article", raise_exception=True)
def entity_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    labels = list(Label.objects.filter(name__in=linking.LINKED_LABELS))
    label = next((label for label in labels if label.name == request.GET.get("label")), None)
    entities = Entity.objects.with_mention_counts().select_related("label").order_by("name", "pk")
    if label is not None:
        entities = entities.filter(label=label)
    if q:
        entities = _matching(entities, q)
    page = Paginator(entities, 50).get_page(request.GET.get("page"))
    return TemplateResponse(request, "annotation/entity_list.html",
                            {"page": page, "labels": labels, "label": label, "q": q})


def _matching(entities: QuerySet, q: str) -> QuerySet:
    """Entities whose name or an alias holds the query, or whose name is spelt like it; an exact
    name or alias first. All compared normalised, in the database."""
    key = linking.normalise_name(q)
    all_keys = Func(F("keys"), Value("\n"), function="array_to_string", output_field=CharField())
    return (entities.annotate(all_keys=all_keys, similarity=TrigramSimilarity("name", q),
                              exact=Case(When(keys__contains=[key], then=Value(0)), default=Value(1)))
            .filter(Q(keys__contains=[key]) | Q(all_keys__contains=key)
                    | Q(similarity__gte=SEARCH_SIMILARITY))
            .order_by("exact", "-similarity", "name", "pk"))


@require_GET
@login_required
@permission_required("corpus.view_article", raise_exception=True)
def entity_detail(request: HttpRequest, entity_id: int) -> HttpResponse:
    entity = get_object_or_404(Entity.objects.select_related("label"), pk=entity_id)
    return TemplateResponse(request, ENTITY_PAGE, _entity_context(request, entity))


@decision_view("annotation.change_entity")
def rename_entity(request: HttpRequest, entity_id: int) -> HttpResponse:
    entity = get_object_or_404(Entity.objects.select_related("label"), pk=entity_id)
    name = request.POST.get("name", "").strip()
    error = _name_error(name)
    taken = Entity.objects.filter(label=entity.label, keys__contains=[linking.normalise_name(name)])
    if error is None and taken.exclude(pk=entity.pk).exists():
        error = f"Another {entity.label} is already called {name}: merge into it instead."
    if error:
        return _entity_form(request, entity, "rename-form", error=error, name=name)
    linking.rename(entity, name, by=request.user)
    return _to_entity(request, entity)


@decision_view("annotation.change_entity")
def merge_entity(request: HttpRequest, entity_id: int) -> HttpResponse:
    entity = get_object_or_404(Entity.objects.select_related("label"), pk=entity_id)
    into = request.POST.get("into", "").strip()
    # The same label first; another label's entity of that name is refused with a reason.
    target = (Entity.objects.select_related("label")
              .filter(keys__contains=[linking.normalise_name(into)])
              .order_by(Case(When(label=entity.label_id, then=Value(0)), default=Value(1)), "pk")
              .first()) if into else None
    if target is None:
        error = f"No entity is called {into}." if into else "Give the name of the entity to merge into."
        return _entity_form(request, entity, "merge-form", error=error, into=into)
    try:
        linking.merge(entity, target, by=request.user)
    except ValueError as refused:
        return _entity_form(request, entity, "merge-form", error=str(refused), into=into)
    return _to_entity(request, target)


def _entity_context(request: HttpRequest, entity: Entity) -> dict:
    # The text around each mention is cut in the database: a page never loads whole articles.
    mentions = (entity.mentions.live().select_related("article")
                .only("start", "end", "text", "status", "entity", "entity_accepted",
                      "article__title", "article__status")
                .annotate(window_start=Greatest(F("start") - CONTEXT_WINDOW, 0))
                .annotate(window=Substr("article__text", F("window_start") + 1,
                                        F("end") - F("window_start") + CONTEXT_WINDOW))
                .order_by("article_id", "start"))
    page = Paginator(mentions, 50).get_page(request.GET.get("page"))
    for mention in page:
        mention.sentence = _sentence_around(mention)
    return {"entity": entity, "page": page, "reliability_choices": Reliability.choices,
            "can_manage": request.user.has_perm("annotation.change_entity"),
            **claim_pages.entity_claims(entity)}


def _sentence_around(mention: Mention) -> SentenceAround:
    """The sentence holding the mention, cut from the window of text the query fetched."""
    window, start = mention.window, mention.start - mention.window_start
    end = mention.end - mention.window_start
    boundaries = [match.end() for match in _SENTENCE_END.finditer(window, 0, start)]
    stop = _SENTENCE_END.search(window, end)
    before = window[boundaries[-1] if boundaries else 0:start].lstrip()
    after = window[end:stop.start() if stop else len(window)].rstrip()
    if not boundaries and mention.window_start > 0:
        before = "…" + before  # the window began mid-sentence
    if stop is None and len(window) == end + CONTEXT_WINDOW:
        after += "…"  # and ended mid-sentence, before the end of the text
    return SentenceAround(before, window[start:end], after)


def _entity_form(request: HttpRequest, entity: Entity, form: str, *, error: str,
                 **values) -> HttpResponse:
    template = ENTITY_PAGE + (f"#{form}" if request.htmx else "")
    context = ({"entity": entity, "can_manage": True} if request.htmx
               else _entity_context(request, entity))
    return TemplateResponse(request, template, {**context, "form": form, "error": error, **values},
                            status=HTTPStatus.UNPROCESSABLE_ENTITY)


def _to_entity(request: HttpRequest, entity: Entity) -> HttpResponse:
    url = entity.get_absolute_url()
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
