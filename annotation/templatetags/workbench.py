"""The workbench's repeated fragments, written in Python: a mark for each mention in the text, a
row for each mention and claim in the side lists, the text cut into claims and marks, and the
legend and toolbar that every decision's answer sends again.

An article page draws hundreds of these; with template nodes they were three quarters of its
time (each variable resolved, escaped and localised on its own). Here each is one f-string over
escaped values. The templates keep the page's structure and call these tags, so each fragment's
markup lives in one place, and `{% partial mention-row %}` still answers a decision.
"""

from html import escape

from django import template
from django.middleware.csrf import get_token
from django.template.defaultfilters import title
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from annotation.models import Claim, Mention
from config.links import url_for
from corpus.text import truncated

register = template.Library()

_OOB = ' hx-swap-oob="true"'
_ORIGIN_NOTE = {"analyst": " · added", "pattern": " · learnt"}
_MENTION_STATUS = {value: escape(str(name)) for value, name in Mention.Status.choices}
_CLAIM_STATUS = {value: escape(str(name)) for value, name in Claim.Status.choices}


@register.simple_tag(takes_context=True)
def mention_mark(context, mention) -> SafeString:
    return mark_safe(_mark(mention, context.get("oob")))


@register.simple_tag(takes_context=True)
def mention_row(context, mention) -> SafeString:
    return mark_safe(_Rows(context).mention(mention))


@register.simple_tag(takes_context=True)
def placed_row(context, mention, placement: str) -> SafeString:
    """A new row put into its list out of band: `placement` is htmx's swap and target
    ("beforebegin:#mention-row-7"), which takes the wrapper's content."""
    row = _Rows(context, oob=False).mention(mention)
    return mark_safe(f'<div hx-swap-oob="{escape(placement)}">{row}</div>')


@register.simple_tag(takes_context=True)
def mention_rows(context, mentions) -> SafeString:
    rows = _Rows(context)
    return mark_safe("".join(rows.mention(mention) for mention in mentions))


@register.simple_tag(takes_context=True)
def claim_row(context, claim) -> SafeString:
    return mark_safe(_claim_row(claim))


@register.simple_tag
def claim_rows(claims, oob: bool = False) -> SafeString:
    """The claims' rows; `oob`: each swapped in out of band, in place of its row on the page."""
    return mark_safe("".join(_claim_row(claim, oob) for claim in claims))


@register.simple_tag(takes_context=True)
def legend(context, groups) -> SafeString:
    """Each label's swatch, name, key and counts."""
    lines = "".join(
        f'\n  <li><span class="swatch label-{escape(group.label.name.lower())}" aria-hidden="true">'
        f'{escape(group.label.marker)}</span>\n'
        f'    <strong>{escape(title(group.label.name))}</strong> '
        f'<kbd title="Key for this label">{escape(group.label.key)}</kbd>\n'
        f'    <span class="counts"><span class="count-confirmed">{group.confirmed}</span> confirmed · '
        f'<span class="count-suggested">{group.undecided}</span> to decide</span>\n  </li>'
        for group in groups)
    oob = _OOB if context.get("oob") else ""
    return mark_safe(f'<ul id="legend" class="legend"{oob}>{lines}\n</ul>')


@register.simple_tag
def message_box(message: str = "") -> SafeString:
    """Where a decision's answer says what went wrong (the answer's main target, never out of
    band)."""
    inside = f'<p class="message warning">{conditional_escape(message)}</p>' if message else ""
    return mark_safe(f'<div id="messages" role="status" aria-live="polite">{inside}</div>')


@register.simple_tag(takes_context=True)
def article_status(context, article) -> SafeString:
    oob = _OOB if context.get("oob") else ""
    return mark_safe(f'<span id="article-status" class="status status-{escape(article.status)}"'
                     f'{oob}>{escape(str(article.get_status_display()))}</span>')


@register.simple_tag(takes_context=True)
def toolbar(context, article) -> SafeString:
    """Undo and submit, while the article can be edited."""
    oob = _OOB if context.get("oob") else ""
    if not context.get("editable"):
        return mark_safe(f'<div id="toolbar" class="toolbar-actions"{oob}></div>')
    csrf = _csrf_input(context)
    undo = url_for("annotation:undo_decision", article.pk)
    submit = url_for("annotation:submit_article", article.pk)
    return mark_safe(
        f'<div id="toolbar" class="toolbar-actions"{oob}>\n'
        f'  <form method="post" action="{undo}" hx-post="{undo}">\n'
        f'    {csrf}<button type="submit" id="undo-button" title="Undo your last decision (u)">'
        f'↶ Undo</button>\n  </form>\n'
        f'  <div id="submit-panel">\n'
        f'    <form method="post" action="{submit}" hx-post="{submit}">\n'
        f'      {csrf}<button type="submit" class="primary" id="submit-button">Submit for review'
        f'</button>\n    </form>\n  </div>\n</div>')


@register.simple_tag(takes_context=True)
def group_head(context, group) -> SafeString:
    """A label's heading in the side list, with "Confirm all" while it has suggestions: the
    form says which it showed (id:version of each), so that none added since is confirmed."""
    label = group.label
    name, lower = escape(label.name), escape(label.name.lower())
    oob = _OOB if context.get("oob") else ""
    form = ""
    if context.get("editable") and (suggested := group.suggested):
        action = url_for("annotation:confirm_all", context["article"].pk)
        seen = "".join(f'<input type="hidden" name="seen" value="{m.pk}:{m.version}">'
                       for m in suggested)
        form = (f'\n  <form class="confirm-all" method="post" action="{action}" hx-post="{action}">\n'
                f'    {_csrf_input(context)}\n    <input type="hidden" name="label" value="{name}">\n'
                f'    {seen}\n    <button type="submit" title="Confirm every remaining {name} '
                f'suggestion">Confirm all {len(suggested)}</button>\n  </form>\n')
    return mark_safe(f'<h2 id="group-head-{lower}"{oob}><span class="swatch label-{lower}" '
                     f'aria-hidden="true">{escape(label.marker)}</span> {escape(title(label.name))}'
                     f'{form}</h2>')


@register.simple_tag
def text_runs(runs) -> SafeString:
    """The article's text: plain runs, boilerplate and marks, inside the claims they lie in."""
    parts = []
    for run in runs:
        claim = run.claim
        if claim is not None:
            parts.append(_claim_open(claim))
        for segment in run.segments:
            if segment.mention is not None:
                parts.append(_mark(segment.mention, False))
            elif segment.boilerplate:
                parts.append(f'<span class="boilerplate" title="Page furniture: not annotated">'
                             f'{escape(segment.text)}</span>')
            else:
                parts.append(escape(segment.text))
        if claim is not None:
            parts.append("</span>")
    return mark_safe("".join(parts))


def _csrf_input(context) -> str:
    """What {% csrf_token %} draws: the form's token, masked once for the whole response."""
    request = context.get("request")
    token = context.get("csrf_token") or (get_token(request) if request else "")
    return (f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(str(token))}">'
            if token else "")


def _mark(mention, oob) -> str:
    pk, status, label = mention.pk, mention.status, mention.label
    name = escape(label.name)
    return (f'<mark id="mention-{pk}" class="mark label-{escape(label.name.lower())} is-{escape(status)}" '
            f'data-mention="{pk}" data-version="{mention.version}" data-origin="{escape(mention.origin)}" '
            f'data-status="{escape(status)}" data-label="{name}" data-marker="{escape(label.marker)}" '
            f'title="{name} · {_MENTION_STATUS[mention.status]}"{_OOB if oob else ""}>'
            f'<a href="#mention-row-{pk}" tabindex="-1">{escape(mention.text)}</a></mark>')


class _Rows:
    """What every mention row of one response shares: its form's token and addresses."""

    def __init__(self, context, *, oob: bool | None = None) -> None:
        self.oob = _OOB if (context.get("oob") if oob is None else oob) else ""
        self.editable = context.get("editable")
        self.url = context.get("mentions_url", "")
        self.stamp = escape(context.get("render_stamp", ""))
        self.csrf = _csrf_input(context)

    def mention(self, mention) -> str:
        pk, version, status, text = mention.pk, mention.version, mention.status, escape(mention.text)
        parts = [
            f'\n<li id="mention-row-{pk}" class="mention-row is-{escape(status)}" data-mention="{pk}"{self.oob}>\n'
            f'  <a class="mention-text" href="#mention-{pk}">{text}</a>\n'
            f'  <span class="mention-status">{_MENTION_STATUS[mention.status]}'
            f'{_ORIGIN_NOTE.get(mention.origin, "")}</span>\n  \n']
        if self.editable:
            action = f"{self.url}{pk}/"
            parts.append(
                f'  <form class="decide" method="post" action="{action}confirm/">\n'
                f'    {self.csrf}<input type="hidden" name="version" value="{version}">'
                f'<input type="hidden" name="idempotency_key" value="{pk}-{version}-{self.stamp}">\n'
                f'    <button type="submit" class="confirm" hx-post="{action}confirm/"'
                f'{" disabled" if status == "confirmed" else ""} aria-label="Confirm {text}">✓ Confirm</button>\n'
                f'    <button type="submit" class="reject" formaction="{action}reject/" hx-post="{action}reject/"'
                f'{" disabled" if status == "rejected" else ""} aria-label="Reject {text}">✗ Reject</button>\n'
                f'  </form>\n  \n')
        parts.append("  ")
        if status == "confirmed" and (mention.entity_id or mention.link_reason):
            parts.append(_entity_link(mention))
        parts.append("\n</li>\n")
        return "".join(parts)


def _entity_link(mention) -> str:
    pending = bool(mention.entity_id and not mention.entity_accepted)
    entity = mention.entity if mention.entity_id else None
    if entity is not None:
        name = escape(entity.name)
        shown = f'<span class="entity-name">→ <a href="{entity_url(entity.pk)}">{name}</a></span>'
        if pending:
            shown += f' <span class="link-reason">{escape(mention.link_reason)}?</span>'
    else:
        name, shown = "", '<span class="entity-name">→ no entity</span>'
    return (f'\n  <div class="entity-link{" is-pending" if pending else ""}" data-entity="{name}" '
            f'data-pending="{"1" if pending else ""}">\n    {shown}\n  </div>\n  ')


def _claim_open(claim) -> str:
    summary = getattr(claim, "summary", None)
    speaker = claim.speaker
    badge = f"{truncated(speaker or 'article', 30)} · {_outlets(summary)}"
    cue = f" ({escape(claim.cue)})" if claim.cue else ""
    contradicted = " is-contradicted" if summary is not None and summary.contradicted else ""
    return (f'<span id="claim-{claim.pk}" class="claim is-{escape(claim.status)}{contradicted}" '
            f'data-claim="{claim.pk}" data-version="{claim.version}" data-origin="{escape(claim.origin)}" '
            f'data-status="{escape(claim.status)}" data-badge="{escape(badge)}" '
            f'title="Claim · {escape(speaker or "the article itself")}{cue} · '
            f'{_CLAIM_STATUS[claim.status]}">')


def _claim_row(claim, oob: bool = False) -> str:
    summary = getattr(claim, "summary", None)
    pk, status, speaker = claim.pk, escape(claim.status), escape(claim.speaker)
    if not claim.speaker:
        who = "<em>the article itself</em>"
    elif claim.speaker_mention_id and claim.speaker_mention.entity_id:
        who = f'<a href="{entity_url(claim.speaker_mention.entity_id)}">{speaker}</a>'
    else:
        who = speaker
    cue = f' · <span class="claim-cue">{escape(claim.cue)}</span>' if claim.cue else ""
    outlets = _outlets(summary)
    backing = summary.backing if summary is not None else 0
    badges = [f'<span class="badge outlets" title="Independent outlets reporting it">{outlets} '
              f'outlet{"" if outlets == 1 else "s"}</span>\n    ']
    if backing:
        badges.append(f'<span class="badge corroborated">{backing} backing</span>')
    badges.append("\n    ")
    if summary is not None and summary.contradicted:
        badges.append('<span class="badge contradicted">contradicted</span>')
    badges.append("\n    ")
    if claim.credibility:
        badges.append(f'<span class="badge credibility" title="{escape(claim.get_credibility_display())}">'
                      f'credibility {claim.credibility}</span>')
    return (
        f'\n<li id="claim-row-{pk}" class="claim-row is-{status}" data-claim="{pk}" '
        f'data-version="{claim.version}" data-origin="{escape(claim.origin)}" data-status="{status}" '
        f'data-speaker="{speaker}" data-cue="{escape(claim.cue)}" '
        f'data-credibility="{claim.credibility or ""}"{_OOB if oob else ""}>\n'
        f'  <a class="claim-text" href="#claim-{pk}">{escape(truncated(claim.text, 140))}</a>\n'
        f'  <span class="claim-meta">\n'
        f'    <span class="claim-speaker">{who}</span>{cue}{" · quote" if claim.direct else ""}\n'
        f'    · <span class="claim-status">{_CLAIM_STATUS[claim.status]}'
        f'{" · added" if claim.origin == "analyst" else ""}</span>\n'
        f'  </span>\n'
        f'  <span class="claim-badges">\n    {"".join(badges)}\n'
        f'    <a class="claim-page-link" href="{claim_url(pk)}">claim page</a>\n'
        f'  </span>\n</li>\n')


def _outlets(summary) -> int:
    return (summary.outlet_count if summary is not None else 0) or 1


def entity_url(pk: int) -> str:
    return url_for("annotation:entity_detail", pk)


def claim_url(pk: int) -> str:
    return url_for("annotation:claim_detail", pk)
