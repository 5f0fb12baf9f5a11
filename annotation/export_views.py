"""The export page for admins: pick a format and the articles' status, download the file.

The file streams as it is made (StreamingHttpResponse over the generators of exporting.py), so
a large corpus never sits in the web process's memory. spaCy's format comes as a zip of DocBin
shards (part-0001.spacy, …): one DocBin cannot be written piece by piece, and holding the whole
corpus in one would cost memory in proportion to it; unzipped, the shards are a directory
`spacy train` reads as it is.
"""

from collections.abc import Iterator

from django import forms
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from annotation import exporting
from corpus.models import Article

# Only the admin group holds it (annotation.view_event is held by reviewers too): an export
# hands out every article's text and every analyst's decisions.
EXPORT_PERMISSION = "corpus.add_importbatch"
ALL = "all"
SPACY_SHARD_SIZE = 1000


class ExportForm(forms.Form):
    format = forms.ChoiceField(
        choices=[(name, name) for name in exporting.FORMATS], initial="spacy",
        error_messages={"required": "Choose a format.",
                        "invalid_choice": "“%(value)s” is not a format: choose one of "
                                          + ", ".join(exporting.FORMATS) + "."})
    status = forms.ChoiceField(
        initial=Article.Status.APPROVED,
        error_messages={"required": "Choose which articles: approved, all, or another status.",
                        "invalid_choice": "“%(value)s” is not an article status: choose all or one of "
                                          + ", ".join(Article.Status.values) + "."})

    def __init__(self, *args, counts: dict[str, int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Approved first (the default: approved annotations), then every article, then the rest.
        statuses = [Article.Status.APPROVED] + [s for s in Article.Status if s != Article.Status.APPROVED]
        self.fields["status"].choices = (
            [(statuses[0].value, f"{capfirst(statuses[0].label)} ({counts.get(statuses[0], 0)})"),
             (ALL, f"All articles ({sum(counts.values())})")]
            + [(status.value, f"{capfirst(status.label)} ({counts.get(status, 0)})")
               for status in statuses[1:]])


@require_GET
@login_required
@permission_required(EXPORT_PERMISSION, raise_exception=True)
def export_page(request: HttpRequest) -> HttpResponse:
    return _page(request, ExportForm(counts=_status_counts()))


@require_GET
@login_required
@permission_required(EXPORT_PERMISSION, raise_exception=True)
def download_export(request: HttpRequest) -> HttpResponse:
    form = ExportForm(request.GET, counts=_status_counts())
    if not form.is_valid():
        # A download link with bad parameters, not a form being filled in: 400, with the form.
        return _page(request, form, status=400)
    format_ = exporting.FORMATS[form.cleaned_data["format"]]
    status = form.cleaned_data["status"]
    articles = Article.objects.all() if status == ALL else Article.objects.filter(status=status)
    content_type = format_.content_type
    if format_.name != "spacy":
        content_type += "; charset=utf-8"
    response = StreamingHttpResponse(_content(format_, articles), content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, _file_name(format_, status))
    return response


def _page(request: HttpRequest, form: ExportForm, *, status: int = 200) -> HttpResponse:
    return TemplateResponse(request, "annotation/export.html",
                            {"form": form, "formats": exporting.FORMATS.values(),
                             "shard_size": SPACY_SHARD_SIZE}, status=status)


def _status_counts() -> dict[str, int]:
    """{status: articles}, in one query, for the choices of the form."""
    rows = Article.objects.values_list("status").annotate(n=Count("pk")).order_by()
    return dict(rows)


def _content(format_: exporting.Format, articles) -> Iterator[bytes | str]:
    if format_.name == "spacy":
        return exporting.spacy_zip(articles, shard_size=SPACY_SHARD_SIZE)
    return exporting.text_pieces(format_.name, articles)


def _file_name(format_: exporting.Format, status: str) -> str:
    """sourcemark-spacy-approved-20250301-1415.zip: what, which articles, when."""
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return f"sourcemark-{format_.name}-{status}-{stamp}{format_.suffix}"
