"""Decisions on claims from the article page: confirm, reject, edit the span, speaker and cue,
grade, mark a new claim, link it to other articles' claims. Each answers like the decisions on
mentions (annotation.views): the messages as the target, and the changed fragments out of band."""

import json
from http import HTTPStatus

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_POST

from annotation import claim_decisions, corroboration, decisions
from annotation.idempotency import idempotent
from annotation.models import Claim, ClaimLink, Entity
from annotation.views import PAGE, _invalid, _respond
from corpus.models import Article, Source

CANDIDATES = 8


def _on_claim(request: HttpRequest, claim_id: int, decide, *args, **kwargs) -> HttpResponse:
    claim = get_object_or_404(Claim.objects.select_related("article"), pk=claim_id)
    try:
        version = int(request.POST["version"])
    except (KeyError, ValueError):
        return _invalid("A decision needs the version of the claim it was based on.")
    status, message = HTTPStatus.OK, ""
    try:
        decide(claim.pk, *args, version=version, by=request.user, **kwargs)
    except decisions.Refused as refused:
        status, message = HTTPStatus.CONFLICT, str(refused)
    except Claim.DoesNotExist:
        status, message = HTTPStatus.CONFLICT, "That claim is gone."
    return _respond(request, claim.article, message=message, status=status, layers=True,
                    claim_id=claim.pk)


def _offsets(request: HttpRequest, prefix: str = "") -> tuple[int, int] | None:
    try:
        return int(request.POST[f"{prefix}start"]), int(request.POST[f"{prefix}end"])
    except (KeyError, ValueError):
        return None


@require_POST
@login_required
@permission_required("annotation.change_claim", raise_exception=True)
@idempotent
def confirm_claim(request: HttpRequest, claim_id: int) -> HttpResponse:
    return _on_claim(request, claim_id, claim_decisions.confirm)


@require_POST
@login_required
@permission_required("annotation.change_claim", raise_exception=True)
@idempotent
def reject_claim(request: HttpRequest, claim_id: int) -> HttpResponse:
    return _on_claim(request, claim_id, claim_decisions.reject)


@require_POST
@login_required
@permission_required("annotation.change_claim", raise_exception=True)
@idempotent
def resize_claim(request: HttpRequest, claim_id: int) -> HttpResponse:
    move = request.POST.get("move", "")
    if move not in ("grow-start", "shrink-start", "grow-end", "shrink-end"):
        return _invalid("Say which edge moves which way: grow-start, shrink-start, grow-end or shrink-end.")
    grow, edge = move.split("-")
    return _on_claim(request, claim_id, claim_decisions.resize, edge=edge, grow=grow == "grow")


@require_POST
@login_required
@permission_required("annotation.change_claim", raise_exception=True)
@idempotent
def span_claim(request: HttpRequest, claim_id: int) -> HttpResponse:
    offsets = _offsets(request)
    if offsets is None:
        return _invalid("Select the claim's new span first (start and end offsets).")
    return _on_claim(request, claim_id, claim_decisions.set_span, *offsets)


@require_POST
@login_required
@permission_required("annotation.change_claim", raise_exception=True)
@idempotent
def speaker_claim(request: HttpRequest, claim_id: int) -> HttpResponse:
    """The speaker from a selection; `none=1` makes it the article's own voice."""
    offsets = None if request.POST.get("none") == "1" else _offsets(request)
    if offsets is None and request.POST.get("none") != "1":
        return _invalid("Select the speaker's name in the text first (start and end offsets).")
    start, end = offsets or (None, None)
    return _on_claim(request, claim_id, claim_decisions.set_speaker, start, end)


@require_POST
@login_required
@permission_required("annotation.change_claim", raise_exception=True)
@idempotent
def cue_claim(request: HttpRequest, claim_id: int) -> HttpResponse:
    return _on_claim(request, claim_id, claim_decisions.set_cue, request.POST.get("cue", ""))


@require_POST
@login_required
@permission_required("annotation.grade_claim", raise_exception=True)
@idempotent
def grade_claim(request: HttpRequest, claim_id: int) -> HttpResponse:
    value = request.POST.get("credibility", "")
    try:
        credibility = int(value) if value else None
    except ValueError:
        return _invalid("Credibility is graded 1 (confirmed) to 6 (cannot be judged).")
    return _on_claim(request, claim_id, claim_decisions.grade, credibility)


@require_POST
@login_required
@permission_required("annotation.delete_claim", raise_exception=True)
@idempotent
def delete_claim(request: HttpRequest, claim_id: int) -> HttpResponse:
    return _on_claim(request, claim_id, claim_decisions.delete)


@require_POST
@login_required
@permission_required("annotation.add_claimlink", raise_exception=True)
@idempotent
def link_claim(request: HttpRequest, claim_id: int) -> HttpResponse:
    relation = request.POST.get("relation", "")
    try:
        other = int(request.POST["other"])
    except (KeyError, ValueError):
        return _invalid("Say which claim to link to.")
    if relation not in ClaimLink.Relation.values:
        return _invalid("Say how the claims relate: corroborates, contradicts or same.")
    evidence = _offsets(request, "evidence_")
    return _on_claim(request, claim_id, claim_decisions.link, other, relation, evidence=evidence)


@require_POST
@login_required
@permission_required("annotation.delete_claimlink", raise_exception=True)
@idempotent
def unlink_claim(request: HttpRequest, claim_id: int) -> HttpResponse:
    try:
        link_id = int(request.POST["link"])
    except (KeyError, ValueError):
        return _invalid("Say which link to remove.")
    return _on_claim(request, claim_id, claim_decisions.unlink, link_id)


@require_POST
@login_required
@permission_required("annotation.add_claim", raise_exception=True)
@idempotent
def add_claim(request: HttpRequest, article_id: int) -> HttpResponse:
    article = get_object_or_404(Article, pk=article_id)
    offsets = _offsets(request)
    if offsets is None:
        return _invalid("A new claim needs its start and end offsets.")
    status, message, claim_id = HTTPStatus.OK, "", None
    try:
        claim_id = claim_decisions.add(article.pk, *offsets, by=request.user,
                                       cue=request.POST.get("cue", "")).pk
    except decisions.Refused as refused:
        status, message = HTTPStatus.CONFLICT, str(refused)
    response = _respond(request, article, message=message, status=status, layers=True,
                        claim_id=claim_id)
    if claim_id and request.htmx:
        response["HX-Trigger-After-Settle"] = json.dumps({"sourcemark:claim-added": {"id": claim_id}})
    return response


@require_GET
@login_required
@permission_required("annotation.view_claim", raise_exception=True)
def claim_links(request: HttpRequest, claim_id: int) -> HttpResponse:
    """The selected claim's links and the candidates to link it to (a fragment of the panel)."""
    claim = get_object_or_404(Claim.objects.select_related("article"), pk=claim_id)
    return TemplateResponse(request, f"{PAGE}#claim-links", links_context(request, claim))


def links_context(request: HttpRequest, claim: Claim | None,
                  summary: corroboration.ClaimSummary | None = None) -> dict:
    """The claim panel's sources and candidates; `summary` when the caller has it already."""
    if claim is None:
        return {"selected_claim": None}
    summary = summary or next(iter(corroboration.summaries([claim])), None)
    editable = claim.article.status in decisions.EDITABLE and claim.status != Claim.Status.REJECTED
    return {"selected_claim": claim, "summary": summary,
            "candidates": corroboration.candidates(claim, limit=CANDIDATES) if editable else [],
            "can_link": editable and request.user.has_perm("annotation.add_claimlink"),
            "relations": ClaimLink.Relation.choices}


# Reliability grades of speakers (entities) and outlets (sources): small forms on the claim and
# entity pages, answered with a redirect back.

@require_POST
@login_required
@permission_required("annotation.grade_claim", raise_exception=True)
@idempotent
def grade_entity(request: HttpRequest, entity_id: int) -> HttpResponse:
    entity = get_object_or_404(Entity, pk=entity_id)
    return _graded(request, entity, claim_decisions.grade_entity, entity.get_absolute_url())


@require_POST
@login_required
@permission_required("annotation.grade_claim", raise_exception=True)
@idempotent
def grade_source(request: HttpRequest, source_id: int) -> HttpResponse:
    source = get_object_or_404(Source, pk=source_id)
    return _graded(request, source, claim_decisions.grade_source, reverse("corpus:article_list"))


def _graded(request: HttpRequest, subject, grade, fallback: str) -> HttpResponse:
    try:
        subject = grade(subject, request.POST.get("reliability", ""), by=request.user)
    except decisions.Refused as refused:
        messages.warning(request, str(refused))
    else:
        messages.success(request, f"{subject} is graded {subject.get_reliability_display()}.")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        back = fallback
    return redirect(back)
