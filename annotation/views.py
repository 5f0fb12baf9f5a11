import bisect
from dataclasses import dataclass
from http import HTTPStatus

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_POST

from annotation import decisions
from annotation.idempotency import idempotent
from annotation.models import Label, Mention
from corpus.models import Article

PAGE = "annotation/article_detail.html"
# A second cue besides colour, one per label in order (colour-blind users).
BORDER_STYLES = ["solid", "dashed", "dotted", "double"]


@dataclass
class LabelGroup:
    """One label's line in the legend and its section of the side list."""

    label: Label
    mentions: list[Mention]

    @property
    def confirmed(self) -> int:
        return sum(1 for m in self.mentions if m.status == Mention.Status.CONFIRMED)

    @property
    def suggested(self) -> list[Mention]:
        return [m for m in self.mentions if m.status == Mention.Status.SUGGESTED]


@dataclass
class Segment:
    text: str
    mention: Mention | None = None
    boilerplate: bool = False


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
def article_detail(request: HttpRequest, article_id: int) -> HttpResponse:
    article = get_object_or_404(Article.objects.with_source(), pk=article_id)
    return TemplateResponse(request, PAGE, _page_context(article))


# Decisions on one mention. Each answers with the fragments that changed, out of band.

@require_POST
@login_required
@permission_required("annotation.change_mention", raise_exception=True)
@idempotent
def confirm_mention(request: HttpRequest, mention_id: int) -> HttpResponse:
    return _on_mention(request, mention_id, decisions.confirm)


@require_POST
@login_required
@permission_required("annotation.change_mention", raise_exception=True)
@idempotent
def reject_mention(request: HttpRequest, mention_id: int) -> HttpResponse:
    return _on_mention(request, mention_id, decisions.reject)


@require_POST
@login_required
@permission_required("annotation.change_mention", raise_exception=True)
@idempotent
def relabel_mention(request: HttpRequest, mention_id: int) -> HttpResponse:
    label = Label.objects.filter(name=request.POST.get("label", "")).first()
    if label is None:
        return _invalid("Choose one of the labels.")
    return _on_mention(request, mention_id, decisions.relabel, label, layers=True)


@require_POST
@login_required
@permission_required("annotation.change_mention", raise_exception=True)
@idempotent
def resize_mention(request: HttpRequest, mention_id: int) -> HttpResponse:
    move = request.POST.get("move", "")
    if move not in ("grow-start", "shrink-start", "grow-end", "shrink-end"):
        return _invalid("Say which edge moves which way: grow-start, shrink-start, grow-end or shrink-end.")
    grow, edge = move.split("-")
    return _on_mention(request, mention_id, decisions.resize, edge=edge, grow=grow == "grow", layers=True)


@require_POST
@login_required
@permission_required("annotation.delete_mention", raise_exception=True)
@idempotent
def delete_mention(request: HttpRequest, mention_id: int) -> HttpResponse:
    return _on_mention(request, mention_id, decisions.delete, layers=True)


# Decisions on an article.

@require_POST
@login_required
@permission_required("annotation.add_mention", raise_exception=True)
@idempotent
def add_mention(request: HttpRequest, article_id: int) -> HttpResponse:
    article = get_object_or_404(Article, pk=article_id)
    label = Label.objects.filter(name=request.POST.get("label", "")).first()
    try:
        start, end = int(request.POST["start"]), int(request.POST["end"])
    except (KeyError, ValueError):
        return _invalid("A new mention needs its start and end offsets.")
    if label is None:
        return _invalid("Choose one of the labels.")
    return _on_article(request, article, lambda: decisions.add(article.pk, start, end, label,
                                                               by=request.user))


@require_POST
@login_required
@permission_required("annotation.change_mention", raise_exception=True)
@idempotent
def undo_decision(request: HttpRequest, article_id: int) -> HttpResponse:
    article = get_object_or_404(Article, pk=article_id)
    return _on_article(request, article, lambda: decisions.undo(article.pk, by=request.user))


@require_POST
@login_required
@permission_required("annotation.change_mention", raise_exception=True)
@idempotent
def confirm_all(request: HttpRequest, article_id: int) -> HttpResponse:
    article = get_object_or_404(Article, pk=article_id)
    label = Label.objects.filter(name=request.POST.get("label", "")).first()
    try:
        seen = dict(map(int, pair.split(":")) for pair in request.POST.getlist("seen"))
    except ValueError:
        return _invalid("Each seen mention is sent as id:version.")
    if label is None:
        return _invalid("Choose one of the labels.")
    return _on_article(request, article, lambda: decisions.confirm_all(
        article.pk, label, seen=seen, by=request.user))


@require_POST
@login_required
@permission_required("corpus.change_article", raise_exception=True)
@idempotent
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


def _on_mention(request: HttpRequest, mention_id: int, decide, *args, layers: bool = False, **kwargs):
    mention = get_object_or_404(Mention.objects.select_related("article"), pk=mention_id)
    try:
        version = int(request.POST["version"])
    except (KeyError, ValueError):
        return _invalid("A decision needs the version of the mention it was based on.")
    status, message = HTTPStatus.OK, ""
    try:
        mention = decide(mention.pk, *args, version=version, by=request.user, **kwargs)
    except decisions.Refused as refused:
        status, message = HTTPStatus.CONFLICT, str(refused)
        mention = refused.current or mention
        layers = layers or refused.current is None
    return _respond(request, mention.article, mention=mention, message=message, status=status,
                    layers=layers)


def _on_article(request: HttpRequest, article: Article, decide) -> HttpResponse:
    status, message = HTTPStatus.OK, ""
    try:
        decide()
    except decisions.Refused as refused:
        status, message = HTTPStatus.CONFLICT, str(refused)
    return _respond(request, article, message=message, status=status, layers=True)


def _respond(request: HttpRequest, article: Article, *, mention: Mention | None = None,
             message: str = "", status: int = HTTPStatus.OK, layers: bool = False,
             partial: str = "decision", **extra) -> HttpResponse:
    article.refresh_from_db(fields=["status"])
    if not request.htmx:
        anchor = f"#mention-row-{mention.pk}" if mention else ""
        return redirect(article.get_absolute_url() + anchor)
    context = {**_page_context(article), "mention": mention, "message": message, "oob": True,
               "layers": layers, **extra}
    return TemplateResponse(request, f"{PAGE}#{partial}", context, status=status)


def _invalid(message: str) -> HttpResponse:
    return HttpResponse(message, status=HTTPStatus.UNPROCESSABLE_ENTITY, content_type="text/plain")


def _page_context(article: Article) -> dict:
    mentions = list(article.mentions.for_page())
    labels = list(Label.objects.all())
    by_label = {label.pk: LabelGroup(label, []) for label in labels}
    for mention in mentions:
        by_label[mention.label_id].mentions.append(mention)
    return {"article": article, "labels": labels, "groups": list(by_label.values()),
            "segments": _segments(article, mentions),
            "editable": article.status in decisions.EDITABLE,
            "next_article": Article.objects.next_to_annotate(after=article)}


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
            segments.append(Segment(text[position:mention.start]))
        segments.append(Segment(text[mention.start:mention.end], mention))
        position = mention.end
    if position < article.body_end:
        segments.append(Segment(text[position:article.body_end]))
        position = article.body_end
    if position < len(text):
        segments.append(Segment(text[position:], boilerplate=True))
    return segments
