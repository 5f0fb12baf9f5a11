import bisect
from dataclasses import dataclass
from http import HTTPStatus

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_POST

from annotation import decisions
from annotation.models import Label, Mention
from corpus.models import Article

PAGE = "annotation/article_detail.html"


@dataclass
class LabelGroup:
    """One label's line in the legend and its section of the side list."""

    label: Label
    mentions: list[Mention]

    @property
    def standing(self) -> int:
        return sum(1 for m in self.mentions if m.status != Mention.Status.REJECTED)

    @property
    def confirmed(self) -> int:
        return sum(1 for m in self.mentions if m.status == Mention.Status.CONFIRMED)

    @property
    def suggested(self) -> int:
        return sum(1 for m in self.mentions if m.status == Mention.Status.SUGGESTED)


# A second cue besides colour, one per label in order (colour-blind users; issue 3).
BORDER_STYLES = ["solid", "dashed", "dotted", "double"]


@require_GET
def label_css(request: HttpRequest) -> HttpResponse:
    """The labels' colours as a style sheet: labels are data, and no inline style is needed."""
    rules = []
    for index, label in enumerate(Label.objects.all()):
        name, colour = label.name.lower(), label.colour
        border = BORDER_STYLES[index % len(BORDER_STYLES)]
        rules.append(
            f".label-{name}.mark {{ background: {colour}2e; border-bottom: 3px {border} {colour}; }}\n"
            f".swatch.label-{name} {{ background: {colour}; color: #fff; }}\n"
            f".label-{name}.mark::after {{ color: {colour}; }}\n")
    response = HttpResponse("".join(rules), content_type="text/css")
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
@login_required
def article_detail(request: HttpRequest, article_id: int) -> HttpResponse:
    article = get_object_or_404(Article.objects.with_source(), pk=article_id)
    mentions = list(article.mentions.for_page())
    context = {"article": article, "groups": _groups(mentions),
               "segments": _segments(article, mentions)}
    return TemplateResponse(request, PAGE, context)


@require_POST
@login_required
@permission_required("annotation.change_mention", raise_exception=True)
def confirm_mention(request: HttpRequest, mention_id: int) -> HttpResponse:
    return _decide(request, mention_id, decisions.confirm)


@require_POST
@login_required
@permission_required("annotation.change_mention", raise_exception=True)
def reject_mention(request: HttpRequest, mention_id: int) -> HttpResponse:
    return _decide(request, mention_id, decisions.reject)


def _decide(request: HttpRequest, mention_id: int, decide) -> HttpResponse:
    mention = get_object_or_404(Mention, pk=mention_id)
    try:
        version = int(request.POST["version"])
    except (KeyError, ValueError):
        return HttpResponse("A decision needs the version of the mention it was based on.",
                            status=HTTPStatus.UNPROCESSABLE_ENTITY, content_type="text/plain")
    status, message = HTTPStatus.OK, ""
    try:
        mention = decide(mention.pk, version=version, by=request.user)
    except decisions.StaleVersion as stale:
        mention = stale.current
        status = HTTPStatus.CONFLICT
        message = (f"“{mention.text}” was changed by someone else meanwhile: "
                   f"it is now {mention.get_status_display()}. Nothing was changed.")
    except decisions.Refused as refused:
        mention, status, message = refused.current, HTTPStatus.CONFLICT, str(refused)
    if not request.htmx:
        return redirect(f"{mention.article.get_absolute_url()}#mention-row-{mention.pk}")
    article = mention.article
    mentions = list(article.mentions.for_page())
    context = {"article": article, "mention": mention, "groups": _groups(mentions),
               "oob": True, "message": message}
    return TemplateResponse(request, f"{PAGE}#mention-decided", context, status=status)


def _groups(mentions: list[Mention]) -> list[LabelGroup]:
    by_label = {label.pk: LabelGroup(label, []) for label in Label.objects.all()}
    for mention in mentions:
        by_label[mention.label_id].mentions.append(mention)
    return list(by_label.values())


@dataclass
class Segment:
    text: str
    mention: Mention | None = None
    boilerplate: bool = False


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
