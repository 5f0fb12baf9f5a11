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
from django.views.decorators.http import require_GET

from annotation import claim_decisions, corroboration, decisions, layers
from annotation.idempotency import decision_view
from annotation.models import Claim, ClaimLink, Entity
from annotation.views import MOVE_ERROR, PAGE, _invalid, _move, _respond
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


@decision_view("annotation.change_claim")
def confirm_claim(request: HttpRequest, claim_id: int) -> HttpResponse:
    return _on_claim(request, claim_id, claim_decisions.confirm)


@decision_view("annotation.change_claim")
def reject_claim(request: HttpRequest, claim_id: int) -> HttpResponse:
    return _on_claim(request, claim_id, claim_decisions.reject)


@decision_view("annotation.change_claim")
def resize_claim(request: HttpRequest, claim_id: int) -> HttpResponse:
    if (move := _move(request)) is None:
        return _invalid(MOVE_ERROR)
    return _on_claim(request, claim_id, claim_decisions.resize, **move)


@decision_view("annotation.change_claim")
def span_claim(request: HttpRequest, claim_id: int) -> HttpResponse:
    offsets = _offsets(request)
    if offsets is None:
        return _invalid("Select the claim's new span first (start and end offsets).")
    return _on_claim(request, claim_id, claim_decisions.set_span, *offsets)


@decision_view("annotation.change_claim")
def speaker_claim(request: HttpRequest, claim_id: int) -> HttpResponse:
    """The speaker from a selection; `none=1` makes it the article's own voice."""
    offsets = None if request.POST.get("none") == "1" else _offsets(request)
    if offsets is None and request.POST.get("none") != "1":
        return _invalid("Select the speaker's name in the text first (start and end offsets).")
    start, end = offsets or (None, None)
    return _on_claim(request, claim_id, claim_decisions.set_speaker, start, end)


@decision_view("annotation.change_claim")
def cue_claim(request: HttpRequest, claim_id: int) -> HttpResponse:
    return _on_claim(request, claim_id, claim_decisions.set_cue, request.POST.get("cue", ""))


@decision_view("annotation.grade_claim")
def grade_claim(request: HttpRequest, claim_id: int) -> HttpResponse:
    value = request.POST.get("credibility", "")
    try:
        credibility = int(value) if value else None
    except ValueError:
        return _invalid("Credibility is graded 1 (confirmed) to 6 (cannot be judged).")
    return _on_claim(request, claim_id, claim_decisions.grade, credibility)


@decision_view("annotation.delete_claim")
def delete_claim(request: HttpRequest, claim_id: int) -> HttpResponse:
    return _on_claim(request, claim_id, claim_decisions.delete)


@decision_view("annotation.add_claimlink")
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


@decision_view("annotation.delete_claimlink")
def unlink_claim(request: HttpRequest, claim_id: int) -> HttpResponse:
    try:
        link_id = int(request.POST["link"])
    except (KeyError, ValueError):
        return _invalid("Say which link to remove.")
    return _on_claim(request, claim_id, claim_decisions.unlink, link_id)


@decision_view("annotation.add_claim")
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
@layers.in_layer
def claim_links(request: HttpRequest, claim_id: int) -> HttpResponse:
    """The selected claim's links and the candidates to link it to (a fragment of the panel),
    swapped in by its id when it arrives: the panel asked for may have been replaced meanwhile
    (a quicker answer for another claim)."""
    claim = get_object_or_404(Claim.objects.select_related("article"), pk=claim_id)
    return TemplateResponse(request, f"{PAGE}#claim-links",
                            {**links_context(request, claim), "claim_links_oob": True})


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

@decision_view("annotation.grade_claim")
def grade_entity(request: HttpRequest, entity_id: int) -> HttpResponse:
    entity = get_object_or_404(Entity, pk=entity_id)
    return _graded(request, entity, claim_decisions.grade_entity, entity.get_absolute_url())


@decision_view("annotation.grade_claim")
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
