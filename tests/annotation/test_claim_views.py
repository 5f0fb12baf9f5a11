"""Decisions on claims from the article page: fragments, versions, idempotent replays, events,
permissions, undo, and the claims layer drawn over the text."""

import pytest
from django.urls import reverse

from annotation import claim_decisions, decisions
from annotation.models import Claim, ClaimLink, Event, Label, Mention
from corpus.models import Article
from tests.factories import ArticleFactory, MentionFactory, SourceFactory, UserFactory

HTMX = {"HX-Request": "true"}
TEXT = ("Interior Minister Hedi Majdoub said 36 attackers had been killed in Ben Guerdane.\n"
        "The army put the toll at 40.")


def make_claim(article, phrase, *, speaker=None, status=Claim.Status.SUGGESTED,
               origin=Claim.Origin.MODEL, cue="said"):
    start = article.text.index(phrase)
    fields = {}
    if speaker:
        s = article.text.index(speaker)
        fields = {"speaker": speaker, "speaker_start": s, "speaker_end": s + len(speaker)}
    return Claim.objects.create(article=article, start=start, end=start + len(phrase), text=phrase,
                                cue=cue, status=status, origin=origin, **fields)


@pytest.fixture
def article(db):
    return ArticleFactory(text=TEXT, status=Article.Status.PRETAGGED)


@pytest.fixture
def claim(article):
    MentionFactory(article=article, start=TEXT.index("Hedi"), end=TEXT.index(" said"),
                   status=Mention.Status.CONFIRMED)
    return make_claim(article, "36 attackers had been killed in Ben Guerdane",
                      speaker="Hedi Majdoub")


def url(name, claim):
    return reverse(f"annotation:{name}_claim", args=[claim.pk])


def test_the_page_draws_claims_over_the_text_with_the_entity_marks_inside(analyst_client, claim):
    MentionFactory(article=claim.article, start=TEXT.index("36"), end=TEXT.index("36") + 2,
                   label=Label.objects.get(name="FIGURE"))
    html = analyst_client.get(claim.article.get_absolute_url()).content.decode()
    assert f'<span id="claim-{claim.pk}" class="claim is-suggested"' in html
    inside = html.split(f'<span id="claim-{claim.pk}"', 1)[1].split("</span>", 1)[0]
    assert "<mark" in inside and "attackers had been killed in Ben Guerdane" in inside
    assert 'data-badge="Hedi Majdoub · 1"' in html
    assert f'id="claim-row-{claim.pk}"' in html and 'id="claim-actions"' in html
    # The claim's marks are text nodes of #article-text: the text reads as the article.
    assert "said <span id=" in html


def test_confirm_answers_with_the_layers_and_records_an_event(analyst_client, analyst, claim):
    response = analyst_client.post(url("confirm", claim), {"version": 1}, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="messages"')
    assert 'id="article-text" class="article-text"' in html and 'hx-swap-oob="true"' in html
    assert f'<span id="claim-{claim.pk}" class="claim is-confirmed"' in html
    assert 'id="claim-links" class="claim-links" hx-swap-oob="true"' in html
    claim.refresh_from_db()
    assert (claim.status, claim.version, claim.decided_by) == ("confirmed", 2, analyst)
    event = Event.objects.get(action="claim.confirm")
    assert (event.before["status"], event.after["status"], event.actor) == ("suggested", "confirmed", analyst)
    assert Article.objects.get().status == Article.Status.IN_PROGRESS


def test_a_stale_version_changes_nothing_and_says_so(analyst_client, other_analyst, claim):
    claim_decisions.reject(claim.pk, version=1, by=other_analyst)
    response = analyst_client.post(url("confirm", claim), {"version": 1}, headers=HTMX)
    assert response.status_code == 409
    assert "was changed by bob meanwhile" in response.content.decode()
    claim.refresh_from_db()
    assert (claim.status, claim.version) == ("rejected", 2)
    assert not Event.objects.filter(action="claim.confirm").exists()


def test_a_replayed_decision_gets_the_same_answer_and_changes_nothing(analyst_client, claim):
    headers = {**HTMX, "Idempotency-Key": "claim-key-0001"}
    first = analyst_client.post(url("reject", claim), {"version": 1}, headers=headers)
    again = analyst_client.post(url("reject", claim), {"version": 1}, headers=headers)
    assert again.status_code == first.status_code == 200
    assert again.content == first.content and again["Idempotent-Replay"] == "true"
    assert Event.objects.filter(action="claim.reject").count() == 1
    claim.refresh_from_db()
    assert claim.version == 2


def test_speaker_from_a_selection_links_its_mention_and_can_be_cleared(analyst_client, claim):
    army = TEXT.index("army")
    MentionFactory(article=claim.article, start=army, end=army + 4, label=Label.objects.get(name="GROUP"))
    response = analyst_client.post(url("speaker", claim), {"version": 1, "start": army + 1, "end": army + 3},
                                   headers=HTMX)
    assert response.status_code == 200
    claim.refresh_from_db()
    assert (claim.speaker, claim.speaker_start, claim.speaker_end) == ("army", army, army + 4)
    assert claim.speaker_mention.text == "army" and claim.status == "confirmed"
    analyst_client.post(url("speaker", claim), {"version": 2, "none": "1"}, headers=HTMX)
    claim.refresh_from_db()
    assert (claim.speaker, claim.speaker_start, claim.speaker_mention) == ("", None, None)


def test_span_and_cue_edits_and_resize(analyst_client, claim):
    text = claim.article.text
    start = text.index("had been")
    analyst_client.post(url("span", claim), {"version": 1, "start": start, "end": start + 5}, headers=HTMX)
    claim.refresh_from_db()
    assert claim.text == "had been" or claim.text == "had been"[:len(claim.text)]
    analyst_client.post(url("resize", claim), {"version": claim.version, "move": "grow-end"}, headers=HTMX)
    claim.refresh_from_db()
    assert claim.text.startswith("had been") and claim.end > start + 8
    analyst_client.post(url("cue", claim), {"version": claim.version, "cue": "  told  "}, headers=HTMX)
    claim.refresh_from_db()
    assert claim.cue == "told"
    assert [e.action for e in Event.objects.filter(subject_type="claim")] == ["claim.span", "claim.resize", "claim.cue"]


def test_bad_input_is_refused_with_a_clear_message(analyst_client, claim):
    assert analyst_client.post(url("confirm", claim), {}, headers=HTMX).status_code == 422
    response = analyst_client.post(url("span", claim), {"version": 1, "start": 0, "end": len(TEXT)},
                                   headers=HTMX)
    assert response.status_code == 409 and "across paragraphs" in response.content.decode()
    response = analyst_client.post(url("resize", claim), {"version": 1, "move": "sideways"}, headers=HTMX)
    assert response.status_code == 422
    response = analyst_client.post(url("grade", claim), {"version": 1, "credibility": "9"}, headers=HTMX)
    assert response.status_code == 409 and "1 (confirmed) to 6" in response.content.decode()
    claim.refresh_from_db()
    assert claim.version == 1


def test_add_a_claim_by_selection_and_refuse_an_overlap(analyst_client, analyst, article):
    start = TEXT.index("The army")
    add = reverse("annotation:add_claim", args=[article.pk])
    response = analyst_client.post(add, {"start": start + 2, "end": len(TEXT)}, headers=HTMX)
    assert response.status_code == 200
    claim = Claim.objects.get()
    # Grown to whole words, without the final full stop (GUIDELINES K2).
    assert (claim.text, claim.origin, claim.status, claim.decided_by) == (
        "The army put the toll at 40", "analyst", "confirmed", analyst)
    again = analyst_client.post(add, {"start": start, "end": start + 8}, headers=HTMX)
    assert again.status_code == 409 and "overlap" in again.content.decode()
    assert Claim.objects.count() == 1


def test_delete_only_what_the_analyst_added(analyst_client, claim):
    response = analyst_client.post(url("delete", claim), {"version": 1}, headers=HTMX)
    assert response.status_code == 409 and "reject it instead" in response.content.decode()
    mine = make_claim(claim.article, "The army put the toll at 40", origin=Claim.Origin.ANALYST,
                      status=Claim.Status.CONFIRMED)
    assert analyst_client.post(url("delete", mine), {"version": 1}, headers=HTMX).status_code == 200
    assert not Claim.objects.filter(pk=mine.pk).exists()
    assert Event.objects.filter(action="claim.delete", subject_id=mine.pk).exists()


def test_link_to_another_articles_claim_and_unlink(analyst_client, analyst, claim):
    outlet = SourceFactory(name="Other Wire")
    other_article = ArticleFactory(text="Officials said 36 attackers died in the town of Ben Guerdane.",
                                   source=outlet)
    other = make_claim(other_article, "36 attackers died in the town of Ben Guerdane",
                       speaker="Officials")
    response = analyst_client.post(url("link", claim), {"version": 1, "other": other.pk,
                                                        "relation": "corroborates"}, headers=HTMX)
    assert response.status_code == 200
    link = ClaimLink.objects.get()
    assert (link.claim, link.other, link.relation, link.created_by) == (claim, other, "corroborates", analyst)
    assert (link.evidence_start, link.evidence_end) == (other.start, other.end)
    html = response.content.decode()
    assert "Corroborates" in html and "2 outlets" in html and "1 backing" in html
    # Linking again changes the relation, it does not duplicate the link.
    analyst_client.post(url("link", claim), {"version": 2, "other": other.pk, "relation": "contradicts"},
                        headers=HTMX)
    assert ClaimLink.objects.get().relation == "contradicts"
    same = make_claim(claim.article, "The army put the toll at 40")
    refused = analyst_client.post(url("link", claim), {"version": 3, "other": same.pk, "relation": "same"},
                                  headers=HTMX)
    assert refused.status_code == 409 and "other articles" in refused.content.decode()
    analyst_client.post(url("unlink", claim), {"version": 3, "link": link.pk}, headers=HTMX)
    assert not ClaimLink.objects.exists()
    assert [e.action for e in Event.objects.filter(subject_type="claimlink")] == [
        "claim.link", "claim.link", "claim.unlink"]


def test_the_links_fragment_lists_sources_and_candidates(analyst_client, claim):
    html = analyst_client.get(reverse("annotation:claim_links", args=[claim.pk]), headers=HTMX).content.decode()
    assert 'id="claim-links"' in html and "Hedi Majdoub" in html and "Link to a claim" in html


def test_undo_takes_back_claim_decisions_and_links(analyst_client, analyst, claim):
    other = make_claim(ArticleFactory(text="They said 36 attackers died."), "36 attackers died")
    claim_decisions.confirm(claim.pk, version=1, by=analyst)
    claim_decisions.link(claim.pk, other.pk, "same", version=2, by=analyst)
    decisions.undo(claim.article_id, by=analyst)
    assert not ClaimLink.objects.exists()
    decisions.undo(claim.article_id, by=analyst)
    claim.refresh_from_db()
    assert claim.status == "suggested"
    with pytest.raises(decisions.Refused):
        decisions.undo(claim.article_id, by=analyst)


def test_grading_is_open_to_reviewers_and_stays_open_after_approval(client, reviewer, claim):
    claim.article.status = Article.Status.APPROVED
    claim.article.save()
    client.force_login(reviewer)
    response = client.post(url("grade", claim), {"version": 1, "credibility": "2"}, headers=HTMX)
    assert response.status_code == 200
    claim.refresh_from_db()
    assert (claim.credibility, claim.graded_by, claim.version) == (2, reviewer, 2)
    assert Event.objects.filter(action="claim.grade", actor=reviewer).exists()
    # ...but a reviewer does not edit claims, and nobody edits an approved article's claims.
    assert client.post(url("confirm", claim), {"version": 2}, headers=HTMX).status_code == 403


def test_permissions(client, claim):
    stranger = UserFactory(username="nobody")
    client.force_login(stranger)
    for action in ("confirm", "reject", "speaker", "cue", "grade", "link", "unlink", "delete"):
        assert client.post(url(action, claim), {"version": 1}, headers=HTMX).status_code == 403, action
    client.logout()
    response = client.post(url("confirm", claim), {"version": 1})
    assert response.status_code == 302 and "/login" in response["Location"]
    claim.refresh_from_db()
    assert claim.version == 1


def _army_speaks(claim, label: str) -> Mention:
    """The claim's speaker is "army", where a mention with that label lies."""
    army = TEXT.index("army")
    claim.speaker, claim.speaker_start, claim.speaker_end = "army", army, army + 4
    claim.save()
    return MentionFactory(article=claim.article, start=army, end=army + 4,
                          label=Label.objects.get(name=label))


def test_a_mention_decision_moves_the_speaker_link(analyst, claim):
    mention = _army_speaks(claim, "GROUP")
    decisions.confirm(mention.pk, version=1, by=analyst)
    claim.refresh_from_db()
    assert claim.speaker_mention == mention
    decisions.reject(mention.pk, version=2, by=analyst)
    claim.refresh_from_db()
    assert claim.speaker_mention is None
    decisions.undo(claim.article_id, by=analyst)
    claim.refresh_from_db()
    assert claim.speaker_mention == mention


def test_only_a_mention_that_can_speak_becomes_a_speaker(analyst, claim):
    """A figure at the speaker's place is no speaker; relabelled a group, it is."""
    mention = _army_speaks(claim, "FIGURE")
    decisions.confirm(mention.pk, version=1, by=analyst)
    claim.refresh_from_db()
    assert claim.speaker_mention is None
    decisions.relabel(mention.pk, Label.objects.get(name="GROUP"), version=2, by=analyst)
    claim.refresh_from_db()
    assert claim.speaker_mention == mention


def test_submit_counts_undecided_claims(analyst, claim):
    Mention.objects.update(status=Mention.Status.CONFIRMED)
    with pytest.raises(decisions.NeedsConfirmation) as pending:
        decisions.submit(claim.article_id, by=analyst)
    assert pending.value.undecided == 1


def test_speakers_and_outlets_are_graded_with_who_and_when(client, reviewer, claim):
    outlet = SourceFactory(name="Wire One")
    entity = claim_decisions.Entity.objects.create(name="Hedi Majdoub", label=Label.objects.get(name="ACTOR"))
    client.force_login(reviewer)
    back = claim.get_absolute_url()
    response = client.post(reverse("annotation:grade_entity", args=[entity.pk]),
                           {"reliability": "B", "next": back})
    assert response.status_code == 302 and response["Location"] == back
    response = client.post(reverse("annotation:grade_source", args=[outlet.pk]),
                           {"reliability": "Z", "next": "https://elsewhere.example/"})
    assert response.status_code == 302 and response["Location"] == reverse("corpus:article_list")
    entity.refresh_from_db()
    outlet.refresh_from_db()
    assert (entity.reliability, entity.graded_by) == ("B", reviewer) and entity.graded_at
    assert outlet.reliability == "F" and outlet.graded_by is None  # "Z" is refused
    assert Event.objects.filter(action="entity.grade", actor=reviewer, after={"reliability": "B"}).exists()
    page = client.get(entity.get_absolute_url()).content.decode()
    assert "graded by carol" in page or f"graded by {reviewer.username}" in page


def test_grading_needs_the_permission(analyst_client, client, claim):
    outlet = SourceFactory(name="Wire Two")
    client.force_login(UserFactory(username="nobody"))
    assert client.post(reverse("annotation:grade_source", args=[outlet.pk]),
                       {"reliability": "A"}).status_code == 403
