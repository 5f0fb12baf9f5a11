"""Every decision on mentions: its fragments, its event, versions, idempotent replay, permissions."""

import json
import re
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotation.models import Entity, Event, IdempotencyRecord, Label, Mention
from corpus.models import Article
from tests.factories import ArticleFactory, MentionFactory

TEXT = "Prime Minister Habib Essid said about 50 extremists attacked Ben Guerdane on Monday."
FIFTY = (TEXT.index("about 50"), TEXT.index("about 50") + len("about 50"))
MONDAY = (TEXT.index("Monday"), TEXT.index("Monday") + len("Monday"))


def htmx(key: str | None = None) -> dict:
    return {"HX-Request": "true", "Idempotency-Key": key or uuid.uuid4().hex}


@pytest.fixture
def article(db):
    return ArticleFactory(text=TEXT, status=Article.Status.PRETAGGED)


@pytest.fixture
def essid(article):
    return MentionFactory(article=article, start=15, end=26)  # "Habib Essid"


@pytest.fixture
def place(article):
    return MentionFactory(article=article, start=61, end=73, label=Label.objects.get(name="PLACE"))


def post(client, name, pk, data=None, key=None):
    return client.post(reverse(f"annotation:{name}", args=[pk]), data or {}, headers=htmx(key))


def test_relabel_confirms_with_the_new_label_and_moves_the_row(analyst_client, essid):
    response = post(analyst_client, "relabel_mention", essid.pk, {"version": 1, "label": "GROUP"})
    essid.refresh_from_db()
    assert response.status_code == 200
    assert (essid.label.name, essid.status, essid.version) == ("GROUP", "confirmed", 2)
    html = response.content.decode()
    # The row moves to the other label's list: those two groups and the mark are redrawn, not
    # the other groups, the whole list or the text.
    assert 'id="mention-panel"' not in html and 'id="article-text"' not in html
    groups = re.findall(r'<section class="label-group" id="group-(\w+)" hx-swap-oob="true">', html)
    assert sorted(groups) == ["actor", "group"]
    moved = html.index(f'id="mention-row-{essid.pk}"')
    assert html.rindex('id="group-group"', 0, moved) > html.rindex('id="group-actor"', 0, moved)
    assert f'id="mention-row-{essid.pk}" class="mention-row is-confirmed" data-mention="{essid.pk}">' in html
    assert f'<mark id="mention-{essid.pk}" class="mark label-group is-confirmed"' in html
    event = Event.objects.get(action="mention.relabel")
    assert (event.before["label"], event.after["label"]) == ("ACTOR", "GROUP")


def test_a_confirm_redraws_its_lists_confirm_all_without_it(analyst_client, essid, article):
    other = MentionFactory(article=article, start=MONDAY[0], end=MONDAY[1])  # another suggestion
    response = post(analyst_client, "confirm_mention", essid.pk, {"version": 1})
    html = response.content.decode()
    head = re.search(r'<h2 id="group-head-actor" hx-swap-oob="true">.*?</h2>', html, re.S).group(0)
    assert "Confirm all 1" in head and f'value="{other.pk}:1"' in head and f'value="{essid.pk}:' not in head
    response = post(analyst_client, "confirm_mention", other.pk, {"version": 1})  # none left
    head = re.search(r'<h2 id="group-head-actor" hx-swap-oob="true">.*?</h2>', response.content.decode(), re.S)
    assert "Confirm all" not in head.group(0)
    confirmed_again = post(analyst_client, "relabel_mention", other.pk, {"version": 2, "label": "ACTOR"})
    assert 'id="group-head-actor"' not in confirmed_again.content.decode()  # no suggestion changed


def test_relabel_moves_the_row_into_place_and_redraws_only_the_old_lists_confirm_all(
        analyst_client, essid, article):
    """Both lists keep other rows: the row leaves one and is put, in text order, in the other;
    the old list's "Confirm all" no longer counts it; neither list is drawn again."""
    actor, group = Label.objects.get(name="ACTOR"), Label.objects.get(name="GROUP")
    essid_too = MentionFactory(article=article, start=MONDAY[0], end=MONDAY[1], label=actor)  # stays
    MentionFactory(article=article, start=0, end=5, label=group)  # a row before it in text order
    after = MentionFactory(article=article, start=FIFTY[0], end=FIFTY[1], label=group)
    response = post(analyst_client, "relabel_mention", essid.pk, {"version": 1, "label": "GROUP"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="label-group"' not in html and 'id="mention-panel"' not in html
    delete = html.index(f'<div hx-swap-oob="delete:#mention-row-{essid.pk}"></div>')
    placed = html.index(f'<div hx-swap-oob="beforebegin:#mention-row-{after.pk}">\n<li id="mention-row-{essid.pk}"')
    assert delete < placed  # the old row goes before the new one comes (they share an id)
    head = re.search(r'<h2 id="group-head-actor" hx-swap-oob="true">.*?</h2>', html, re.S).group(0)
    assert "Confirm all 1" in head and f'value="{essid_too.pk}:1"' in head and f'value="{essid.pk}:' not in head
    assert 'id="group-head-group"' not in html


def _spoken_by(essid):
    """A claim whose speaker is the mention "Habib Essid"."""
    from annotation.models import Claim

    return Claim.objects.create(article=essid.article, start=32, end=84, text=TEXT[32:84],
                                speaker="Habib Essid", speaker_start=15, speaker_end=26,
                                speaker_mention=essid, cue="said")


def _claim_row(claim, html: str) -> str:
    """The claim's row, drawn again out of band in an answer."""
    return re.search(rf'<li id="claim-row-{claim.pk}" [^>]*hx-swap-oob="true">.*?</li>', html, re.S).group(0)


def test_relabelling_a_speaker_redraws_the_claims_it_speaks(analyst_client, essid):
    claim = _spoken_by(essid)
    response = post(analyst_client, "relabel_mention", essid.pk, {"version": 1, "label": "FIGURE"})
    assert response.status_code == 200
    claim.refresh_from_db()
    assert claim.speaker_mention is None  # a figure does not speak
    html = response.content.decode()
    # The row moves, and the claim's row is drawn again in place; not the text, nor every claim.
    assert 'id="article-text"' not in html and 'id="claim-panel"' not in html
    assert '<span class="claim-speaker">Habib Essid</span>' in _claim_row(claim, html)  # no entity to link to now


def test_confirming_a_speaker_draws_its_claim_again_with_the_entity_it_is_linked_to(analyst_client, essid):
    """The suggestion spoke the claim already; confirmed, it is linked to an entity, which its
    claim's row names."""
    claim = _spoken_by(essid)
    response = post(analyst_client, "confirm_mention", essid.pk, {"version": 1})
    assert response.status_code == 200
    essid.refresh_from_db()
    assert essid.entity.get_absolute_url() in _claim_row(claim, response.content.decode())
    # Confirmed again with its label, nothing about it changes: no claim row.
    response = post(analyst_client, "relabel_mention", essid.pk, {"version": 2, "label": "ACTOR"})
    assert f'id="claim-row-{claim.pk}"' not in response.content.decode()


def test_rejecting_a_speaker_draws_its_claim_again(analyst_client, essid):
    entity = Entity.objects.create(name="Habib Essid", label=essid.label)
    Mention.objects.filter(pk=essid.pk).update(entity=entity)
    claim = _spoken_by(essid)
    response = post(analyst_client, "reject_mention", essid.pk, {"version": 1})
    assert response.status_code == 200
    claim.refresh_from_db()
    assert claim.speaker_mention is None
    # It named the entity while the mention stood.
    assert entity.get_absolute_url() not in _claim_row(claim, response.content.decode())


def test_relabel_to_an_unknown_label_is_422(analyst_client, essid):
    assert post(analyst_client, "relabel_mention", essid.pk, {"version": 1, "label": "NOPE"}).status_code == 422


@pytest.mark.parametrize(("move", "expected"), [
    ("grow-start", "Minister Habib Essid"), ("shrink-start", "Essid"),
    ("grow-end", "Habib Essid said"), ("shrink-end", "Habib"),
])
def test_resize_moves_one_edge_by_one_token(analyst_client, essid, move, expected):
    response = post(analyst_client, "resize_mention", essid.pk, {"version": 1, "move": move})
    assert response.status_code == 200
    essid.refresh_from_db()
    assert essid.text == expected == TEXT[essid.start:essid.end]
    assert essid.status == "confirmed"
    assert f'{expected}</a></mark>' in response.content.decode()


def test_narrowing_a_one_word_mention_is_refused(analyst_client, article):
    word = MentionFactory(article=article, start=21, end=26)  # "Essid"
    response = post(analyst_client, "resize_mention", word.pk, {"version": 1, "move": "shrink-end"})
    assert response.status_code == 409
    assert "cannot be narrowed" in response.content.decode()


def test_widening_into_a_standing_mention_is_refused_clearly(analyst_client, essid, article):
    MentionFactory(article=article, start=27, end=31, label=Label.objects.get(name="FIGURE"))  # said
    response = post(analyst_client, "resize_mention", essid.pk, {"version": 1, "move": "grow-end"})
    assert response.status_code == 409
    assert "would overlap “said”" in response.content.decode()
    essid.refresh_from_db()
    assert (essid.end, essid.version) == (26, 1)


def test_add_marks_the_selection_grown_to_whole_words(analyst_client, analyst, article):
    response = post(analyst_client, "add_mention", article.pk, {"start": 33, "end": 40, "label": "FIGURE"})
    assert response.status_code == 200
    mention = Mention.objects.get()
    assert (mention.text, mention.origin, mention.status, mention.decided_by) == (
        "about 50", "analyst", "confirmed", analyst)
    assert f'<mark id="mention-{mention.pk}" class="mark label-figure is-confirmed"' in response.content.decode()
    assert Event.objects.get(action="mention.add").after["text"] == "about 50"
    # Its characters lie in one run of plain text: the page draws the mark there, told where by
    # the answer's event, and gets the mark, its label's list and the counts; not the text, the
    # whole side list or the claims (redrawn only when a speaker changed, below).
    html = response.content.decode()
    assert json.loads(response["HX-Trigger"]) == {"sourcemark:mention-added": {
        "id": mention.pk, "start": FIFTY[0], "end": FIFTY[1]}}
    assert 'id="article-text"' not in html and 'id="mention-panel"' not in html
    assert 'id="claim-panel"' not in html
    assert re.findall(r'id="group-(\w+)" hx-swap-oob="true"', html) == ["figure"]  # was empty
    assert f'id="mention-row-{mention.pk}"' in html
    assert '<ul id="legend" class="legend" hx-swap-oob="true">' in html


def test_an_add_to_an_article_that_does_not_exist_is_not_found(analyst_client, article):
    response = post(analyst_client, "add_mention", article.pk + 1000, {"start": 0, "end": 5, "label": "FIGURE"})
    assert response.status_code == 404
    assert not Mention.objects.exists()


@pytest.mark.parametrize("where", ["before", "after"])
def test_an_add_puts_its_row_in_text_order_in_its_labels_list(analyst_client, article, where):
    other = (MentionFactory(article=article, label=Label.objects.get(name="FIGURE"), start=MONDAY[0],
                            end=MONDAY[1]) if where == "before"
             else MentionFactory(article=article, label=Label.objects.get(name="FIGURE"), start=0, end=5))
    response = post(analyst_client, "add_mention", article.pk, {"start": 33, "end": 40, "label": "FIGURE"})
    assert response.status_code == 200
    html = response.content.decode()
    added = Mention.objects.get(text="about 50")
    place = (f"beforebegin:#mention-row-{other.pk}" if where == "before"
             else "beforeend:#group-figure .mention-list")
    assert f'<div hx-swap-oob="{place}">\n<li id="mention-row-{added.pk}" class="mention-row is-confirmed"' in html
    assert 'id="group-figure"' not in html and 'id="mention-panel"' not in html


@pytest.mark.parametrize("in_the_way", ["a rejected mark", "a claim's edge"])
def test_an_add_that_the_page_cannot_draw_in_place_redraws_the_text(analyst_client, article,
                                                                    in_the_way):
    from annotation.models import Claim

    if in_the_way == "a rejected mark":  # drawn until the new mention covers it
        MentionFactory(article=article, start=39, end=40, status=Mention.Status.REJECTED)  # "0"
    else:
        Claim.objects.create(article=article, start=36, end=len(TEXT), text=TEXT[36:])
    response = post(analyst_client, "add_mention", article.pk, {"start": 33, "end": 40, "label": "FIGURE"})
    assert response.status_code == 200
    assert "HX-Trigger" not in response
    html = response.content.decode()
    assert 'id="article-text"' in html and 'id="mention-panel"' in html
    assert f'<mark id="mention-{Mention.objects.get(status="confirmed").pk}" class="mark label-figure' in html


def test_adding_a_speaker_redraws_the_claims_it_speaks(analyst_client, article):
    from annotation.models import Claim

    claim = Claim.objects.create(article=article, start=32, end=84, text=TEXT[32:84],
                                 speaker="Habib Essid", speaker_start=15, speaker_end=26, cue="said")
    response = post(analyst_client, "add_mention", article.pk, {"start": 15, "end": 26, "label": "ACTOR"})
    assert response.status_code == 200
    claim.refresh_from_db()
    assert claim.speaker_mention.text == "Habib Essid"
    html = response.content.decode()
    # Drawn in place (the page marks it), with the claim's row now linking its speaker.
    assert "sourcemark:mention-added" in response["HX-Trigger"] and 'id="article-text"' not in html
    row = re.search(rf'<li id="claim-row-{claim.pk}" [^>]*hx-swap-oob="true">.*?</li>', html, re.S).group(0)
    assert claim.speaker_mention.entity.get_absolute_url() in row


def test_adding_over_a_standing_mention_is_refused_with_a_message(analyst_client, essid, article):
    response = post(analyst_client, "add_mention", article.pk, {"start": 21, "end": 31, "label": "ACTOR"})
    assert response.status_code == 409
    assert "would overlap “Habib Essid”" in response.content.decode()
    assert Mention.objects.count() == 1


def test_adding_outside_the_text_is_refused(analyst_client, article):
    response = post(analyst_client, "add_mention", article.pk, {"start": 70, "end": 999, "label": "PLACE"})
    assert response.status_code == 409
    assert not Mention.objects.exists()


def test_adding_without_offsets_is_422(analyst_client, article):
    assert post(analyst_client, "add_mention", article.pk, {"label": "PLACE"}).status_code == 422


def test_delete_removes_a_mention_the_analyst_added(analyst_client, article):
    added = MentionFactory(article=article, start=FIFTY[0], end=FIFTY[1], origin=Mention.Origin.ANALYST,
                           status=Mention.Status.CONFIRMED)
    response = post(analyst_client, "delete_mention", added.pk, {"version": 1})
    assert response.status_code == 200
    assert not Mention.objects.filter(pk=added.pk).exists()
    assert f'id="mention-{added.pk}"' not in response.content.decode()
    assert Event.objects.get(action="mention.delete").before["text"] == "about 50"


def test_a_suggestion_cannot_be_deleted_only_rejected(analyst_client, essid):
    response = post(analyst_client, "delete_mention", essid.pk, {"version": 1})
    assert response.status_code == 409
    assert "reject it instead" in response.content.decode()
    assert Mention.objects.filter(pk=essid.pk).exists()


def test_confirm_all_confirms_the_suggestions_seen_and_skips_changed_ones(analyst_client, article, essid):
    figure = Label.objects.get(name="FIGURE")
    fifty = MentionFactory(article=article, start=FIFTY[0], end=FIFTY[1], label=figure)
    monday = MentionFactory(article=article, start=MONDAY[0], end=MONDAY[1], label=figure, version=3)
    response = analyst_client.post(reverse("annotation:confirm_all", args=[article.pk]),
                                   {"label": "FIGURE", "seen": [f"{fifty.pk}:1", f"{monday.pk}:2"]},
                                   headers=htmx())
    assert response.status_code == 200
    assert Mention.objects.get(pk=fifty.pk).status == "confirmed"
    assert Mention.objects.get(pk=monday.pk).status == "suggested"  # changed since it was seen
    assert Mention.objects.get(pk=essid.pk).status == "suggested"  # another label
    assert Event.objects.filter(action="mention.confirm").count() == 1


def test_undo_takes_back_the_last_decision_and_records_it(analyst_client, essid):
    post(analyst_client, "confirm_mention", essid.pk, {"version": 1})
    post(analyst_client, "relabel_mention", essid.pk, {"version": 2, "label": "PLACE"})
    response = post(analyst_client, "undo_decision", essid.article_id)
    assert response.status_code == 200
    essid.refresh_from_db()
    assert (essid.label.name, essid.status, essid.version) == ("ACTOR", "confirmed", 4)
    post(analyst_client, "undo_decision", essid.article_id)
    essid.refresh_from_db()
    assert (essid.status, essid.version) == ("suggested", 5)
    assert Event.objects.filter(action="mention.undo").count() == 2


def test_undo_of_a_delete_brings_the_mention_back_with_its_id(analyst_client, article):
    added = MentionFactory(article=article, start=FIFTY[0], end=FIFTY[1], origin=Mention.Origin.ANALYST,
                           status=Mention.Status.CONFIRMED)
    post(analyst_client, "delete_mention", added.pk, {"version": 1})
    post(analyst_client, "undo_decision", article.pk)
    assert Mention.objects.get(pk=added.pk).text == "about 50"


def test_undo_of_an_add_removes_it(analyst_client, article):
    post(analyst_client, "add_mention", article.pk, {"start": FIFTY[0], "end": FIFTY[1], "label": "FIGURE"})
    post(analyst_client, "undo_decision", article.pk)
    assert not Mention.objects.exists()


def test_undo_takes_back_a_whole_confirm_all(analyst_client, article):
    figure = Label.objects.get(name="FIGURE")
    mentions = [MentionFactory(article=article, start=FIFTY[0], end=FIFTY[1], label=figure),
                MentionFactory(article=article, start=MONDAY[0], end=MONDAY[1], label=figure)]
    analyst_client.post(reverse("annotation:confirm_all", args=[article.pk]),
                        {"label": "FIGURE", "seen": [f"{m.pk}:1" for m in mentions]}, headers=htmx())
    post(analyst_client, "undo_decision", article.pk)
    assert set(Mention.objects.values_list("status", flat=True)) == {"suggested"}


def test_undo_never_overwrites_someone_elses_later_change(analyst_client, other_analyst, essid):
    post(analyst_client, "confirm_mention", essid.pk, {"version": 1})
    bob = Client()
    bob.force_login(other_analyst)
    post(bob, "reject_mention", essid.pk, {"version": 2})
    response = post(analyst_client, "undo_decision", essid.article_id)
    assert response.status_code == 409
    assert "cannot be undone" in response.content.decode()
    assert Mention.objects.get(pk=essid.pk).status == "rejected"


def test_undo_with_nothing_to_undo_says_so(analyst_client, article):
    response = post(analyst_client, "undo_decision", article.pk)
    assert response.status_code == 409
    assert "Nothing to undo" in response.content.decode()


def test_replayed_key_gets_the_first_answer_and_changes_nothing(analyst_client, essid):
    first = post(analyst_client, "confirm_mention", essid.pk, {"version": 1}, key="replay-key-1")
    again = post(analyst_client, "confirm_mention", essid.pk, {"version": 1}, key="replay-key-1")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.content == first.content
    assert again["Idempotent-Replay"] == "true"
    assert Event.objects.filter(action="mention.confirm").count() == 1
    assert Mention.objects.get(pk=essid.pk).version == 2


def test_replayed_add_creates_one_mention(analyst_client, article):
    for _ in range(3):
        post(analyst_client, "add_mention", article.pk, {"start": FIFTY[0], "end": FIFTY[1], "label": "FIGURE"},
             key="add-once-123")
    assert Mention.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_a_key_reused_for_another_request_is_refused(analyst_client, essid):
    post(analyst_client, "confirm_mention", essid.pk, {"version": 1}, key="same-key-42")
    response = post(analyst_client, "reject_mention", essid.pk, {"version": 2}, key="same-key-42")
    assert response.status_code == 422
    assert Mention.objects.get(pk=essid.pk).status == "confirmed"


def test_another_users_key_is_not_replayed_to_them(analyst_client, other_analyst, essid):
    post(analyst_client, "confirm_mention", essid.pk, {"version": 1}, key="alices-key-1")
    bob = Client()
    bob.force_login(other_analyst)
    assert post(bob, "confirm_mention", essid.pk, {"version": 2}, key="alices-key-1").status_code == 422


def test_submitted_article_can_no_longer_be_changed(analyst_client, essid):
    Article.objects.filter(pk=essid.article_id).update(status=Article.Status.SUBMITTED)
    response = post(analyst_client, "reject_mention", essid.pk, {"version": 1})
    assert response.status_code == 409
    assert "can no longer be changed" in response.content.decode()


def test_submit_with_undecided_suggestions_asks_first(analyst_client, essid):
    response = post(analyst_client, "submit_article", essid.article_id)
    assert response.status_code == 200
    assert "1 suggestion still undecided. Submit anyway?" in response.content.decode()
    assert Article.objects.get().status == "pretagged"
    response = post(analyst_client, "submit_article", essid.article_id, {"even_if_undecided": "1"})
    assert Article.objects.get().status == "submitted"
    assert Event.objects.get(action="article.submit").after == {"status": "submitted", "undecided": 1}


def test_submit_when_all_is_decided_needs_no_question(analyst_client, essid):
    post(analyst_client, "confirm_mention", essid.pk, {"version": 1})
    response = post(analyst_client, "submit_article", essid.article_id)
    assert "Submitted for review" in response.content.decode()
    assert Article.objects.get().status == "submitted"


@pytest.mark.parametrize("name", ["relabel_mention", "resize_mention", "delete_mention"])
def test_reviewer_cannot_change_mentions(client, reviewer, essid, name):
    client.force_login(reviewer)
    assert post(client, name, essid.pk, {"version": 1, "label": "GROUP", "move": "grow-end"}).status_code == 403


@pytest.mark.parametrize("name", ["add_mention", "undo_decision", "confirm_all", "submit_article"])
def test_reviewer_cannot_take_article_decisions(client, reviewer, article, name):
    client.force_login(reviewer)
    assert post(client, name, article.pk, {"start": 0, "end": 5, "label": "ACTOR"}).status_code == 403


def test_widening_never_crosses_a_line_break(analyst_client, db):
    article = ArticleFactory(text="Headline about Tunisia\nTunisian Authorities said so.",
                             status=Article.Status.PRETAGGED)
    mention = MentionFactory(article=article, start=23, end=43, label=Label.objects.get(name="GROUP"))
    response = post(analyst_client, "resize_mention", mention.pk, {"version": 1, "move": "grow-start"})
    assert response.status_code == 409
    assert Mention.objects.get(pk=mention.pk).text == "Tunisian Authorities"


def test_a_selection_across_lines_is_refused(analyst_client, db):
    article = ArticleFactory(text="Headline about Tunisia\nTunisian Authorities said so.",
                             status=Article.Status.PRETAGGED)
    response = post(analyst_client, "add_mention", article.pk, {"start": 15, "end": 31, "label": "PLACE"})
    assert response.status_code == 409
    assert "across lines" in response.content.decode()


def test_without_javascript_a_refusal_is_shown_on_the_page_it_returns_to(analyst_client, essid):
    analyst_client.post(reverse("annotation:reject_mention", args=[essid.pk]), {"version": 1})
    response = analyst_client.post(reverse("annotation:confirm_mention", args=[essid.pk]),
                                   {"version": 1}, follow=True)
    assert "Nothing was changed." in response.content.decode()
    assert Mention.objects.get(pk=essid.pk).status == "rejected"


def test_a_retried_delete_gets_its_first_answer_though_the_mention_is_gone(analyst_client, article):
    post(analyst_client, "add_mention", article.pk,
         {"start": FIFTY[0], "end": FIFTY[1], "label": "FIGURE"})
    added = Mention.objects.get()
    first = post(analyst_client, "delete_mention", added.pk, {"version": 1}, key="delete-once-1")
    again = post(analyst_client, "delete_mention", added.pk, {"version": 1}, key="delete-once-1")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.content == first.content and again["Idempotent-Replay"] == "true"
    assert Event.objects.filter(action="mention.delete").count() == 1


def test_a_new_key_costs_no_query_of_its_own(analyst_client, essid):
    """The key is not looked up first: the INSERT of its answer would fail on a retry."""
    with CaptureQueriesContext(connection) as captured:
        post(analyst_client, "confirm_mention", essid.pk, {"version": 1}, key="fresh-key-1")
    idempotency = [query["sql"] for query in captured.captured_queries
                   if "annotation_idempotencyrecord" in query["sql"]]
    assert len(idempotency) == 1 and idempotency[0].startswith("INSERT")
