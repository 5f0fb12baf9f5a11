"""Read-only pages about claims: a claim with its sources and candidates, the figures claims give
side by side, and the claims by and about an entity (a section of the entity page)."""

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Count, Exists, F, Func, OuterRef, Q, QuerySet, Subquery, TextField
from django.db.models.functions import Greatest, Substr
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from annotation import corroboration
from annotation.models import Claim, Entity, Mention, Reliability

# Characters fetched on each side of a claim to find the paragraph or sentence around it.
CONTEXT_WINDOW = 400
# Claims listed in each section of the entity page.
ENTITY_CLAIMS = 50
FIGURE_GROUPS_PER_PAGE = 15
_PARAGRAPH_END = re.compile(r"\n\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+|\n+")


@dataclass
class Passage:
    """A span of an article with the text around it, up to a paragraph or sentence boundary."""

    before: str
    text: str
    after: str


def with_window(claims: QuerySet) -> QuerySet:
    """Claims with the text around them, cut in the database: no whole article is loaded."""
    return (claims.annotate(window_start=Greatest(F("start") - CONTEXT_WINDOW, 0))
            .annotate(window=Substr("article__text", F("window_start") + 1,
                                    F("end") - F("window_start") + CONTEXT_WINDOW)))


def passage(claim: Claim, start: int, end: int, *, boundary: re.Pattern = _SENTENCE_END) -> Passage:
    """The text from `start` to `end` (inside the claim's window) and what surrounds it, from
    the previous boundary to the next."""
    window, offset = claim.window, claim.window_start
    start, end = start - offset, end - offset
    boundaries = [match.end() for match in boundary.finditer(window, 0, start)]
    stop = boundary.search(window, end)
    before = window[boundaries[-1] if boundaries else 0:start].lstrip()
    after = window[end:stop.start() if stop else len(window)].rstrip()
    if not boundaries and offset > 0:
        before = "…" + before
    if stop is None and len(window) == claim.end - offset + CONTEXT_WINDOW:
        after += "…"
    return Passage(before, window[start:end], after)


# The claim page

@require_GET
@login_required
@permission_required("corpus.view_article", raise_exception=True)
def claim_detail(request: HttpRequest, claim_id: int) -> HttpResponse:
    claim = get_object_or_404(with_window(Claim.objects.all()), pk=claim_id)
    [summary] = corroboration.summaries([claim])
    windows = {row.pk: row for row in with_window(Claim.objects.filter(
        pk__in=[linked.claim.pk for linked in summary.links])).only("pk", "start", "end")}
    for linked in summary.links:
        linked.passage = passage(windows[linked.claim.pk], linked.evidence_start, linked.evidence_end)
    context = {"claim": summary.claim, "summary": summary, "reliability_choices": Reliability.choices,
               "passage": passage(claim, claim.start, claim.end, boundary=_PARAGRAPH_END),
               "corroborating": [*summary.same, *summary.corroborating],
               "carries": list(claim.mentions_inside().select_related("label", "entity")
                               .order_by("start")),
               "candidates": corroboration.candidates(claim)}
    return TemplateResponse(request, "annotation/claim_detail.html", context)


# Figures

class CountedNoun(Func):
    """What a figure counts, lower-cased: the word its own text ends with ("60 miles", "800,000
    barrels"), else the word after it ("36 attackers", "dozens of people"). Takes the figure's
    text and the text after it, joined by U+001F, which no article holds."""

    template = ("(SELECT lower(COALESCE(m[1], m[2])) FROM regexp_match(%(expressions)s, "
                "'[0-9][0-9,.]*[[:space:]-]+([[:alpha:]]+)\\x1f"
                "|\\x1f[[:space:]]*(?:(?:of|the|a|an)[[:space:]]+)*([[:alpha:]][[:alpha:]-]*)') m)")
    arg_joiner = " || chr(31) || "
    output_field = TextField()


class Singular(Func):
    """The plural s dropped, so "attacker" and "attackers" group together ("ss" stays)."""

    template = r"regexp_replace(%(expressions)s, '([^s])s$', '\1')"
    output_field = TextField()


def figures() -> QuerySet:
    """Standing FIGURE mentions inside standing claims, with the claim, the noun they count and
    their numbers."""
    holder = Claim.objects.live().filter(article_id=OuterRef("article_id"), start__lte=OuterRef("start"),
                                         end__gte=OuterRef("end"))
    return (Mention.objects.live().filter(label__name="FIGURE")
            .annotate(claim_id=Subquery(holder.values("pk")[:1]))
            .filter(claim_id__isnull=False)
            .annotate(claim_start=Subquery(holder.values("start")[:1]),
                      claim_end=Subquery(holder.values("end")[:1]),
                      noun=CountedNoun("text", Substr("article__text", F("end") + 1, 40)))
            .annotate(noun_key=Singular("noun"), numbers=corroboration.FigureNumbers("text")))


@require_GET
@login_required
@permission_required("corpus.view_article", raise_exception=True)
def figure_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    entity = Entity.objects.filter(pk=request.GET["entity"]).first() if request.GET.get(
        "entity", "").isdigit() else None
    rows = figures()
    if entity is not None:
        rows = rows.filter(_names(Q(entity=entity)))
    if q:
        rows = rows.filter(Q(noun__icontains=q) | Q(text__icontains=q)
                           | Exists(Claim.objects.filter(pk=OuterRef("claim_id"), text__icontains=q))
                           | _names(Q(entity__name__icontains=q)))
    # Groups with the most claims first: where counts can differ.
    groups = (rows.values("noun_key").annotate(claims=Count("claim_id", distinct=True))
              .order_by("-claims", F("noun_key").asc(nulls_last=True)))
    page = Paginator(groups, FIGURE_GROUPS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "groups": _figure_groups(rows, [group["noun_key"] for group in page]),
               "q": q, "entity": entity}
    return TemplateResponse(request, "annotation/figure_list.html", context)


def _names(entities: Q) -> Exists:
    """The figure's claim names such an entity: inside its span, or as its speaker."""
    inside = Mention.objects.live().filter(entities, article_id=OuterRef("article_id"),
                                           start__gte=OuterRef("claim_start"), end__lte=OuterRef("claim_end"))
    speaker = Claim.objects.filter(pk=OuterRef("claim_id"),
                                   speaker_mention__in=Mention.objects.live().filter(entities))
    return Exists(inside) | Exists(speaker)


@dataclass
class FigureGroup:
    noun: str
    figures: list[Mention]

    @property
    def differs(self) -> bool:
        """Articles give different numbers in it (one article counting several things does not)."""
        # Some pair differs in both exactly when neither is the same for all.
        return (len({tuple(figure.numbers) for figure in self.figures}) > 1
                and len({figure.article_id for figure in self.figures}) > 1)


def _figure_groups(rows: QuerySet, keys: list[str | None]) -> list[FigureGroup]:
    if not keys:
        return []
    in_page = Q(noun_key__in=[key for key in keys if key is not None])
    if None in keys:
        in_page |= Q(noun_key__isnull=True)
    figures = list(rows.filter(in_page).select_related("article__source").defer("article__text"))
    claims = {claim.pk: claim for claim in Claim.objects.filter(pk__in={f.claim_id for f in figures})
              .select_related("speaker_mention__entity")}
    by_key: dict[str | None, list[Mention]] = {key: [] for key in keys}
    for figure in figures:
        figure.claim = claims[figure.claim_id]
        offset = figure.start - figure.claim.start
        before, after = figure.claim.text[:offset], figure.claim.text[offset + len(figure.text):]
        figure.in_claim = Passage(_clip(before, from_start=True), figure.text, _clip(after))
        by_key[figure.noun_key].append(figure)
    return [FigureGroup(key or "", sorted(group, key=_by_value)) for key, group in by_key.items()]


def _clip(text: str, *, from_start: bool = False, limit: int = 160) -> str:
    """At most `limit` characters of the claim beside its figure, the ones next to it kept."""
    if len(text) <= limit:
        return text
    return "…" + text[-limit:].lstrip() if from_start else text[:limit].rstrip() + "…"


def _by_value(figure: Mention) -> tuple:
    try:
        value = Decimal(figure.numbers[0])
    except (InvalidOperation, IndexError):
        value = Decimal("Infinity")  # words ("dozens") after the numbers
    return (value, figure.text.lower(), figure.article_id, figure.start)


# The entity page's section

def entity_claims(entity: Entity) -> dict:
    """Claims by the entity (it is their speaker) and about it (a mention inside links to it),
    with their summaries: the context of templates/annotation/entity_claims.html."""
    about = Mention.objects.live().filter(entity=entity, article_id=OuterRef("article_id"),
                                          start__gte=OuterRef("start"), end__lte=OuterRef("end"))
    by_it = Claim.objects.live().filter(speaker_mention__entity=entity)
    about_it = Claim.objects.live().filter(Exists(about))
    claims_by = list(by_it.only("pk").order_by("article_id", "start")[:ENTITY_CLAIMS])
    claims_about = list(about_it.only("pk").order_by("article_id", "start")[:ENTITY_CLAIMS])
    summaries = {s.claim.pk: s for s in corroboration.summaries([*claims_by, *claims_about])}
    return {"claims_by": [summaries[claim.pk] for claim in claims_by],
            "claims_about": [summaries[claim.pk] for claim in claims_about],
            "claims_by_count": by_it.count() if len(claims_by) == ENTITY_CLAIMS else len(claims_by),
            "claims_about_count": about_it.count() if len(claims_about) == ENTITY_CLAIMS else len(claims_about)}
