from django.contrib.auth.decorators import login_required
from django.contrib.postgres.search import SearchHeadline, SearchQuery
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET

from annotation.models import Entity, Label, Mention
from corpus.models import Article

RESULTS_PER_PAGE = 50
# ts_headline marks each match with these private-use characters; they become <mark> tags only
# after the snippet is escaped, so nothing in an article's text can become markup.
START_SEL, STOP_SEL = "\ue000", "\ue001"


@require_GET
@login_required
def article_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(Article.objects.with_source().defer("text"), 50).get_page(request.GET.get("page"))
    labels = list(Label.objects.all())
    counts = Mention.objects.label_counts([article.pk for article in page])
    for article in page:
        article.label_counts = [counts.get((article.pk, label.pk), 0) for label in labels]
    return TemplateResponse(request, "corpus/article_list.html",
                            {"page": page, "labels": labels})


@require_GET
@login_required
def search(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    labels = list(Label.objects.all())
    label = next((label for label in labels if label.name == request.GET.get("label")), None)
    status = request.GET.get("status", "") if request.GET.get("status") in Article.Status.values else ""
    entity_id = _positive(request.GET.get("entity"))
    entity = Entity.objects.filter(pk=entity_id).first() if entity_id else None
    context = {"q": q, "labels": labels, "label": label, "status": status, "entity": entity,
               "entity_id": entity_id, "statuses": Article.Status.choices, "searched": False}
    if q or label or status or entity_id:
        number = _positive(request.GET.get("page")) or 1
        start = (number - 1) * RESULTS_PER_PAGE
        # One row more than a page says whether there is a next one, without counting them all.
        rows = list(_results(q, label=label, status=status, entity_id=entity_id)
                    [start:start + RESULTS_PER_PAGE + 1])
        for article in rows:
            article.snippet = _snippet(article.headline) if q else ""
        context |= {"searched": True, "results": rows[:RESULTS_PER_PAGE], "number": number,
                    "first": start + 1, "has_next": len(rows) > RESULTS_PER_PAGE}
    return TemplateResponse(request, "corpus/search.html", context)


def _results(q: str, *, label: Label | None, status: str, entity_id: int | None):
    articles = Article.objects.select_related("source").only("title", "status", "source__name")
    if q:
        query = SearchQuery(q, search_type="websearch", config="english")
        articles = articles.search(q).annotate(headline=SearchHeadline(
            "text", query, config="english", start_sel=START_SEL, stop_sel=STOP_SEL,
            max_words=35, min_words=15, max_fragments=2, fragment_delimiter=" … "))
    else:
        articles = articles.order_by("pk")
    standing = Mention.objects.live().filter(article=OuterRef("pk"))
    if label is not None:
        articles = articles.filter(Exists(standing.filter(label=label)))
    if status:
        articles = articles.filter(status=status)
    if entity_id:
        articles = articles.filter(Exists(standing.filter(entity_id=entity_id)))
    return articles


def _snippet(headline: str) -> SafeString:
    return mark_safe(escape(headline).replace(START_SEL, "<mark>").replace(STOP_SEL, "</mark>"))


def _positive(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 < number < 2**31 else None  # beyond, PostgreSQL would refuse the offset
