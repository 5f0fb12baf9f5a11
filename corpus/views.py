from functools import partial

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import TooManyFilesSent
from django.db import transaction
from django.db.models import Exists, OuterRef, TextField
from django.db.models.expressions import RawSQL
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation.models import Assignment, Entity, Label, Mention
from corpus import formats, importing, paging, snippets
from corpus.models import Article, ImportBatch
from corpus.tasks import import_batch

RESULTS_PER_PAGE = 50


@require_GET
@login_required
@permission_required("corpus.view_article", raise_exception=True)
def article_list(request: HttpRequest) -> HttpResponse:
    page = paging.page_of(Article.objects.with_source().defer("text"), request.GET)
    labels = list(Label.objects.all())
    counts = Mention.objects.label_counts([article.pk for article in page.rows])
    assigned = _assignees([article.pk for article in page.rows])
    for article in page.rows:
        article.label_counts = [counts.get((article.pk, label.pk), 0) for label in labels]
        article.assignees = assigned.get(article.pk, [])
    can_assign = request.user.has_perm("corpus.assign_article")
    return TemplateResponse(request, "corpus/article_list.html", {
        "page": page, "labels": labels, "can_assign": can_assign,
        "analysts": _analysts() if can_assign else []})


def _assignees(article_ids: list[int]) -> dict[int, list[str]]:
    rows = Assignment.objects.filter(article_id__in=article_ids).values_list("article_id", "analyst__username")
    found: dict[int, list[str]] = {}
    for article_id, username in rows.order_by("analyst__username"):
        found.setdefault(article_id, []).append(username)
    return found


def _analysts():
    """Users who annotate (through a group or directly), for the assignment form."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    annotate = Q(groups__permissions__codename="change_mention") | Q(user_permissions__codename="change_mention")
    return get_user_model().objects.filter(annotate, is_active=True).distinct().order_by("username")


@require_GET
@login_required
@permission_required("corpus.view_article", raise_exception=True)
def search(request: HttpRequest) -> HttpResponse:
    """Full text and filters. A query that matches few articles (`RANKED_AT_MOST`) lists them
    best first; one that matches more lists them newest first, page by page from the last one
    shown, and says so: ranking every match of a common word would read all of them."""
    q = request.GET.get("q", "").strip()
    labels = list(Label.objects.all())
    label = next((label for label in labels if label.name == request.GET.get("label")), None)
    status = request.GET.get("status", "") if request.GET.get("status") in Article.Status.values else ""
    entity_id = paging.positive(request.GET.get("entity"))
    entity = Entity.objects.filter(pk=entity_id).first() if entity_id else None
    context = {"q": q, "labels": labels, "label": label, "status": status, "entity": entity,
               "entity_id": entity_id, "statuses": Article.Status.choices, "searched": False}
    if q or label or status or entity_id:
        matches = _results(q, label=label, status=status, entity_id=entity_id)
        ranked = None
        if q:  # a few ids say whether the matches are few enough to rank
            ranked = list(matches.order_by().values_list("pk", flat=True)[:RANKED_AT_MOST + 1])
        if ranked is not None and len(ranked) <= RANKED_AT_MOST:
            number = min(paging.positive(request.GET.get("page")) or 1,
                         RANKED_AT_MOST // RESULTS_PER_PAGE + 1)
            start = (number - 1) * RESULTS_PER_PAGE
            rows = list(matches.filter(pk__in=ranked).best_first(q)
                        [start:start + RESULTS_PER_PAGE + 1])
            context |= {"ranked": True, "number": number, "first": start + 1,
                        "has_next": len(rows) > RESULTS_PER_PAGE}
            rows = rows[:RESULTS_PER_PAGE]
        else:
            page = paging.page_of(matches, request.GET, size=RESULTS_PER_PAGE, newest_first=True)
            rows = page.rows
            context |= {"ranked": False, "page": page, "many": ranked is not None,
                        "ranked_at_most": RANKED_AT_MOST}
        for article in rows:
            article.snippet = snippets.snippet(article.text, article.lexemes) if q else ""
        context |= {"searched": True, "results": rows}
    return TemplateResponse(request, "corpus/search.html", context)


# Up to this many matches are listed best first; more, newest first (see `search`).
RANKED_AT_MOST = 200


def _results(q: str, *, label: Label | None, status: str, entity_id: int | None):
    shown = ["title", "status", "source__name", "created_at", *(["text"] if q else [])]
    articles = Article.objects.select_related("source").only(*shown)
    if q:
        # The query's words as the index holds them (stemmed, no stop words), for the snippets.
        lexemes = RawSQL("tsvector_to_array(to_tsvector('english'::regconfig, %s))", [q],
                         output_field=ArrayField(TextField()))
        articles = articles.search(q).annotate(lexemes=lexemes)
    standing = Mention.objects.live().filter(article=OuterRef("pk"))
    if label is not None:
        articles = articles.filter(Exists(standing.filter(label=label)))
    if status:
        articles = articles.filter(status=status)
    if entity_id:
        articles = articles.filter(Exists(standing.filter(entity_id=entity_id)))
    return articles


# Imports (admins): upload files, follow a batch, run it again.

IMPORT_SUFFIXES = (".txt", ".jsonl", ".json", ".csv", ".html", ".htm", ".zip")
ERRORS_SHOWN = 200


@require_http_methods(["GET", "POST"])
@login_required
@permission_required("corpus.add_importbatch", raise_exception=True)
def import_list(request: HttpRequest) -> HttpResponse:
    """The upload form and the recent batches; a POST starts a batch and shows its page."""
    error = ""
    if request.method == "POST":
        files, error = _uploaded_files(request)
        if not error:
            batch = importing.start_import(((f.name, f.read()) for f in files), by=request.user)
            return redirect(batch)
    batches = ImportBatch.objects.select_related("created_by")[:50]
    return TemplateResponse(request, "corpus/import_list.html",
                            {"batches": batches, "error": error, "suffixes": IMPORT_SUFFIXES,
                             "max_mb": formats.MAX_FILE_BYTES // 2**20},
                            status=422 if error else 200)


def _uploaded_files(request: HttpRequest) -> tuple[list, str]:
    """The uploaded files, or why none of them is taken (nothing is stored then)."""
    try:
        files = request.FILES.getlist("files")
    except TooManyFilesSent:
        return [], (f"At most {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files at once: put them in "
                    "a .zip archive.")
    if not files:
        return [], "Choose one or more files to import."
    unsupported = [f.name for f in files if not f.name.lower().endswith(IMPORT_SUFFIXES)]
    if unsupported:
        return [], (f"Not a file type Sourcemark imports: {', '.join(unsupported)}. "
                    f"Use {', '.join(IMPORT_SUFFIXES)}.")
    too_big = [f"{f.name} ({f.size / 2**20:.0f} MB)" for f in files if f.size > formats.MAX_FILE_BYTES]
    if too_big:
        return [], (f"Larger than the {formats.MAX_FILE_BYTES // 2**20} MB limit: "
                    f"{', '.join(too_big)}. Split it, or zip it if it compresses.")
    return files, ""


@require_GET
@login_required
@permission_required("corpus.add_importbatch", raise_exception=True)
def batch_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    """A batch's progress and report; htmx polls the `batch-progress` partial until it is done."""
    batch = get_object_or_404(ImportBatch.objects.select_related("created_by"), pk=batch_id)
    template = "corpus/batch_detail.html" + ("#batch-progress" if request.htmx else "")
    return TemplateResponse(request, template, _batch_context(batch))


def _batch_context(batch: ImportBatch) -> dict:
    pretagged = batch.articles.exclude(status=Article.Status.NEW).count()
    return {"batch": batch, "pretagged": pretagged,
            "errors": [importing.where(e) | {"error": e["error"]} for e in batch.errors[:ERRORS_SHOWN]],
            "warnings": [importing.where(w) | {"error": w["error"]} for w in batch.warnings[:ERRORS_SHOWN]],
            "errors_hidden": max(0, len(batch.errors) - ERRORS_SHOWN),
            "warnings_hidden": max(0, len(batch.warnings) - ERRORS_SHOWN)}


@require_POST
@login_required
@permission_required("corpus.add_importbatch", raise_exception=True)
def rerun_batch(request: HttpRequest, batch_id: int) -> HttpResponse:
    """Enqueue a batch again (a worker died, or the queue lost it): what is stored is skipped."""
    batch = get_object_or_404(ImportBatch, pk=batch_id)
    if batch.finished:
        messages.info(request, "This batch is finished: there is nothing to run again.")
    else:
        transaction.on_commit(partial(import_batch.send, batch.pk))
        messages.success(request, "The batch is queued again; what it already stored is skipped.")
    return redirect(batch)
