"""An article's history: every Event on it as a timeline (who, when, what, before, after)."""

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from annotation.models import Event
from corpus.models import Article


@require_GET
@login_required
@permission_required("corpus.view_article", raise_exception=True)
def article_history(request: HttpRequest, article_id: int) -> HttpResponse:
    article = get_object_or_404(Article, pk=article_id)
    return TemplateResponse(request, "annotation/article_history.html",
                            {"article": article, "events": Event.objects.for_article(article)})
