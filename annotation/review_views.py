"""Review pages: the review queue, an article's review (what the model suggested against what the
analyst decided, approve or return with comments), reopening, assignments and an analyst's queue."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from annotation import review
from annotation.decisions import Refused
from annotation.idempotency import decision_view
from annotation.models import Event
from corpus.models import Article

PAGE = "annotation/article_review.html"


@require_GET
@login_required
@permission_required("corpus.review_article", raise_exception=True)
def review_list(request: HttpRequest) -> HttpResponse:
    submitted = Event.objects.filter(article=OuterRef("pk"), action="article.submit").order_by("-pk")
    articles = review.review_queue().annotate(
        submitted_by=Subquery(submitted.values("actor__username")[:1]),
        submitted_at=Subquery(submitted.values("created_at")[:1]))[:200]
    return TemplateResponse(request, "annotation/review_list.html", {"articles": articles})


@require_GET
@login_required
@permission_required("corpus.review_article", raise_exception=True)
def article_review(request: HttpRequest, article_id: int) -> HttpResponse:
    article = get_object_or_404(Article.objects.with_source(), pk=article_id)
    mentions, claims = review.changes(article)
    changed_only = request.GET.get("all") != "1"
    return TemplateResponse(request, PAGE, {
        "article": article, "changed_only": changed_only,
        "mentions": [c for c in mentions if c.changed or not changed_only],
        "claims": [c for c in claims if c.changed or not changed_only],
        "counts": _verdict_counts(mentions, claims),
        "own_work": review.is_own_work(article, request.user),
        "comments": article.review_comments.select_related("author", "mention", "claim"),
        "reviewable": article.status == Article.Status.SUBMITTED,
        "comparison": (comparison := review.compare(article)),
        "differences": comparison.choices(article.text) if comparison else [],
        "adjudicated": article.events.filter(action="article.adjudicate").exists(),
    })


def _verdict_counts(*groups) -> dict[str, int]:
    counts: dict[str, int] = {}
    for group in groups:
        for change in group:
            counts[change.verdict] = counts.get(change.verdict, 0) + 1
    return counts


@decision_view("corpus.review_article")
def approve_article(request: HttpRequest, article_id: int) -> HttpResponse:
    return _act(request, article_id, lambda: review.approve(article_id, by=request.user),
                "Approved: the article is locked.")


@decision_view("corpus.review_article")
def return_article(request: HttpRequest, article_id: int) -> HttpResponse:
    comments = [review.Comment(request.POST.get("comment", ""))]
    for name, text in request.POST.items():
        kind, _, pk = name.partition(":")
        if kind in ("mention", "claim") and pk.isdigit() and text.strip():
            comments.append(review.Comment(text, **{f"{kind}_id": int(pk)}))
    return _act(request, article_id, lambda: review.return_article(article_id, comments, by=request.user),
                "Returned to the analyst with your comments.")


@decision_view("corpus.reopen_article")
def reopen_article(request: HttpRequest, article_id: int) -> HttpResponse:
    return _act(request, article_id, lambda: review.reopen(
        article_id, request.POST.get("reason", ""), by=request.user),
        "Reopened: the article is back with its analyst.", to_article=True)


def _act(request: HttpRequest, article_id: int, act, done: str, *, to_article: bool = False):
    article = get_object_or_404(Article, pk=article_id)
    try:
        act()
    except Refused as refused:
        messages.error(request, str(refused))
        return redirect(_back(request, article))
    messages.success(request, done)
    return redirect(article.get_absolute_url() if to_article else reverse("annotation:review_list"))


def _back(request: HttpRequest, article: Article) -> str:
    if request.user.has_perm("corpus.review_article") and article.status == Article.Status.SUBMITTED:
        return reverse("annotation:article_review", args=[article.pk])
    return article.get_absolute_url()


@require_GET
@login_required
@permission_required("annotation.view_assignment", raise_exception=True)
def my_articles(request: HttpRequest) -> HttpResponse:
    articles = list(review.my_queue(request.user)[:200])
    return TemplateResponse(request, "annotation/my_articles.html", {"articles": articles})


@decision_view("corpus.assign_article")
def assign_articles(request: HttpRequest) -> HttpResponse:
    """Assign the checked articles of the article list to one analyst."""
    ids = [int(pk) for pk in request.POST.getlist("article") if pk.isdigit()]
    analyst = get_user_model().objects.filter(username=request.POST.get("analyst", "")).first()
    if not ids or analyst is None:
        messages.error(request, "Tick one or more articles and choose an analyst.")
        return redirect("corpus:article_list")
    try:
        added = review.assign(Article.objects.filter(pk__in=ids), analyst, by=request.user,
                              independent=request.POST.get("independent") == "1")
    except Refused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"{added} article{'s' * (added != 1)} assigned to "
                                  f"{analyst.get_username()} ({len(ids) - added} already were).")
    return redirect("corpus:article_list")


@decision_view("corpus.review_article")
def adjudicate_article(request: HttpRequest, article_id: int) -> HttpResponse:
    """The reviewer's side for each difference between two analysts' layers (fields diff-N)."""
    choices = {int(name[5:]): value for name, value in request.POST.items()
               if name.startswith("diff-") and name[5:].isdigit()}
    article = get_object_or_404(Article, pk=article_id)
    try:
        review.adjudicate(article_id, choices, by=request.user)
    except Refused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, "Adjudicated: the article holds the chosen annotation. Approve it, or return it.")
    return redirect("annotation:article_review", article_id=article.pk)
