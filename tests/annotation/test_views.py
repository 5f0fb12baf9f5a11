import pytest
from django.test import Client
from django.urls import reverse

from annotation.models import Event, Label, Mention
from corpus.models import Article
from tests.factories import ArticleFactory, MentionFactory

HTMX = {"HX-Request": "true"}


@pytest.fixture
def suggestion(db):
    article = ArticleFactory(text="Habib Essid said 36 attackers were killed in Ben Guerdane.",
                             status=Article.Status.PRETAGGED)
    MentionFactory(article=article, start=17, end=19, label=Label.objects.get(name="FIGURE"))
    return MentionFactory(article=article, start=0, end=11)


def confirm_url(mention):
    return reverse("annotation:confirm_mention", args=[mention.pk])


def reject_url(mention):
    return reverse("annotation:reject_mention", args=[mention.pk])


def test_article_page_shows_marks_legend_and_side_list(analyst_client, suggestion):
    response = analyst_client.get(suggestion.article.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert f'<mark id="mention-{suggestion.pk}" class="mark label-actor is-suggested"' in html
    assert 'id="legend"' in html and f'id="mention-row-{suggestion.pk}"' in html
    assert "Habib Essid</a></mark> said" in html


def test_confirm_returns_the_row_with_the_mark_and_counts_out_of_band(analyst_client, suggestion):
    response = analyst_client.post(confirm_url(suggestion), {"version": 1}, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="messages"')  # the main swap; all else out of band
    assert f'<li id="mention-row-{suggestion.pk}" class="mention-row is-confirmed" data-mention="{suggestion.pk}" hx-swap-oob="true">' in html
    assert f'<mark id="mention-{suggestion.pk}" class="mark label-actor is-confirmed"' in html
    assert 'id="legend" class="legend" hx-swap-oob="true"' in html
    assert '<span class="count-confirmed">1</span>' in html
    assert 'id="article-status" class="status status-in_progress" hx-swap-oob="true"' in html


def test_confirm_changes_the_mention_and_records_an_event(analyst_client, analyst, suggestion):
    analyst_client.post(confirm_url(suggestion), {"version": 1}, headers=HTMX)
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.version, suggestion.decided_by) == ("confirmed", 2, analyst)
    event = Event.objects.get(action="mention.confirm")
    assert (event.actor, event.subject_id) == (analyst, suggestion.pk)
    assert (event.before["status"], event.after["status"]) == ("suggested", "confirmed")
    assert Article.objects.get().status == "in_progress"


def test_reject_marks_the_mention_rejected(analyst_client, suggestion):
    response = analyst_client.post(reject_url(suggestion), {"version": 1}, headers=HTMX)
    assert response.status_code == 200
    assert b'class="mark label-actor is-rejected"' in response.content
    assert Mention.objects.get(pk=suggestion.pk).status == "rejected"


def test_stale_version_gets_409_with_the_current_state_and_changes_nothing(analyst_client, suggestion):
    analyst_client.post(reject_url(suggestion), {"version": 1}, headers=HTMX)
    response = analyst_client.post(confirm_url(suggestion), {"version": 1}, headers=HTMX)
    assert response.status_code == 409
    assert b"is-rejected" in response.content
    assert "was changed by alice meanwhile: it is now rejected" in response.content.decode()
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.version) == ("rejected", 2)
    assert Event.objects.filter(action__startswith="mention.").count() == 1


def test_missing_version_is_refused_with_422(analyst_client, suggestion):
    response = analyst_client.post(confirm_url(suggestion), {}, headers=HTMX)
    assert response.status_code == 422
    assert Mention.objects.get(pk=suggestion.pk).status == "suggested"


def test_without_htmx_a_decision_redirects_back_to_the_article(analyst_client, suggestion):
    response = analyst_client.post(confirm_url(suggestion), {"version": 1})
    assert response.status_code == 302
    assert response["Location"] == f"{suggestion.article.get_absolute_url()}#mention-row-{suggestion.pk}"


def test_anonymous_visitor_is_sent_to_login_and_nothing_changes(client, suggestion):
    response = client.post(confirm_url(suggestion), {"version": 1}, headers=HTMX)
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert Mention.objects.get(pk=suggestion.pk).status == "suggested"


def test_user_without_the_analyst_role_gets_403(client, stranger, suggestion):
    client.force_login(stranger)
    response = client.post(confirm_url(suggestion), {"version": 1}, headers=HTMX)
    assert response.status_code == 403
    assert Mention.objects.get(pk=suggestion.pk).status == "suggested"


def test_reviewer_cannot_decide_mentions(client, reviewer, suggestion):
    client.force_login(reviewer)
    assert client.post(reject_url(suggestion), {"version": 1}, headers=HTMX).status_code == 403


def test_csrf_token_is_required(analyst, suggestion):
    client = Client(enforce_csrf_checks=True)
    client.force_login(analyst)
    response = client.post(confirm_url(suggestion), {"version": 1}, headers=HTMX)
    assert response.status_code == 403
    assert Mention.objects.get(pk=suggestion.pk).status == "suggested"


def test_csrf_token_in_the_htmx_header_is_accepted(analyst, suggestion):
    client = Client(enforce_csrf_checks=True)
    client.force_login(analyst)
    page = client.get(suggestion.article.get_absolute_url())
    token = page.context["csrf_token"]
    response = client.post(confirm_url(suggestion), {"version": 1},
                           headers={**HTMX, "X-CSRFToken": str(token)})
    assert response.status_code == 200


def test_get_is_not_allowed_on_a_decision(analyst_client, suggestion):
    assert analyst_client.get(confirm_url(suggestion)).status_code == 405


def test_unknown_mention_gets_404(analyst_client, db):
    assert analyst_client.post(reverse("annotation:confirm_mention", args=[999999]),
                               {"version": 1}, headers=HTMX).status_code == 404


def test_fragments_vary_on_the_htmx_header(analyst_client, suggestion):
    response = analyst_client.get(suggestion.article.get_absolute_url())
    assert "HX-Request" in response["Vary"]


def test_article_list_shows_status_and_counts_per_label(analyst_client, suggestion):
    response = analyst_client.get(reverse("corpus:article_list"))
    html = response.content.decode()
    assert "pre-tagged" in html
    # ACTOR 1, GROUP 0, PLACE 0, FIGURE 1
    assert [a.label_counts for a in response.context["page"]] == [[1, 0, 0, 1]]


def test_rejected_suggestion_under_an_analyst_mention_is_not_drawn_twice(analyst_client, suggestion):
    suggestion.status = Mention.Status.REJECTED
    suggestion.save()
    added = MentionFactory(article=suggestion.article, start=0, end=5, origin=Mention.Origin.ANALYST,
                           status=Mention.Status.CONFIRMED)
    html = analyst_client.get(suggestion.article.get_absolute_url()).content.decode()
    assert f'id="mention-{added.pk}"' in html
    assert f'<mark id="mention-{suggestion.pk}"' not in html
    assert f'id="mention-row-{suggestion.pk}"' in html  # still listed, and can be confirmed again


def test_confirming_a_mention_that_overlaps_a_standing_one_is_refused_clearly(analyst_client, suggestion):
    suggestion.status = Mention.Status.REJECTED
    suggestion.save()
    MentionFactory(article=suggestion.article, start=0, end=5, origin=Mention.Origin.ANALYST,
                   status=Mention.Status.CONFIRMED)
    response = analyst_client.post(confirm_url(suggestion), {"version": 1}, headers=HTMX)
    assert response.status_code == 409
    assert "would overlap “Habib”" in response.content.decode()
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.version) == ("rejected", 1)
