from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from annotation.models import Label, Mention
from corpus.models import Article


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
