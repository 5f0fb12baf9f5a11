"""The article list's rows, written in Python: fifty rows of template nodes took most of the
page's time (see annotation/templatetags/workbench.py for the same on the workbench)."""

from html import escape

from django import template
from django.utils.safestring import SafeString, mark_safe

from corpus.models import Article
from corpus.text import truncated

register = template.Library()
_STATUS = {value: escape(str(name)) for value, name in Article.Status.choices}


@register.simple_tag
def article_rows(articles, can_assign: bool) -> SafeString:
    """One row an article: pick box (for those who assign), title, byline and assignees,
    source, status and the standing mentions of each label (`article.label_counts`)."""
    rows = []
    for article in articles:
        title = article.title
        pick = (f'<td><input type="checkbox" name="article" value="{article.pk}" form="assign-form" '
                f'aria-label="Pick {escape(truncated(title, 60))}"></td>' if can_assign else "")
        byline = f'<div class="byline">{escape(article.byline)}</div>' if article.byline else ""
        assignees = (f'<div class="byline">assigned to {escape(", ".join(article.assignees))}</div>'
                     if article.assignees else "")
        source = escape(article.source.name) if article.source_id else "—"
        counts = "".join(f'<td class="num">{count}</td>' for count in article.label_counts)
        rows.append(
            f'\n    <tr>\n      {pick}\n'
            f'      <td><a href="{article.get_absolute_url()}">{escape(truncated(title, 110))}</a>'
            f'{byline}{assignees}</td>\n'
            f'      <td>{source}</td>\n'
            f'      <td><span class="status status-{escape(article.status)}">{_STATUS[article.status]}'
            f'</span></td>\n      {counts}\n    </tr>\n  ')
    return mark_safe("".join(rows))


@register.simple_tag
def result_rows(articles) -> SafeString:
    """Search results: title, status, source and the snippet (already escaped and marked)."""
    rows = []
    for article in articles:
        source = escape(article.source.name) if article.source_id else "No source"
        snippet = f'<p class="snippet">{article.snippet}</p>' if article.snippet else ""
        rows.append(
            f'\n  <li>\n    <h2><a href="{article.get_absolute_url()}">{escape(article.title)}</a></h2>\n'
            f'    <p class="meta"><span class="status status-{escape(article.status)}">'
            f'{_STATUS[article.status]}</span>\n      {source}</p>\n    {snippet}\n  </li>\n  ')
    return mark_safe("".join(rows))
