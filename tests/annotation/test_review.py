"""Review: what the reviewer sees, approve, return with comments, no self-approval, lock, reopen,
assignments and the analyst's queue."""

import pytest
from django.urls import reverse

from annotation import claim_decisions, decisions, review
from annotation.models import Assignment, Event, Label, ReviewComment
from corpus.models import Article
from tests.factories import ArticleFactory, ClaimFactory, MentionFactory, UserFactory

TEXT = "Prime Minister Habib Essid said about 50 extremists attacked Ben Guerdane on Monday."


def span(text: str) -> tuple[int, int]:
    return TEXT.index(text), TEXT.index(text) + len(text)


@pytest.fixture
def article(db):
    return ArticleFactory(text=TEXT, status=Article.Status.PRETAGGED)


@pytest.fixture
def worked(article, analyst):
    """An article the analyst worked on in every way, then submitted."""
    place = Label.objects.get(name="PLACE")
    essid = MentionFactory(article=article, start=15, end=26)                  # confirmed as is
    fifty = MentionFactory(article=article, start=32, end=40,                  # relabelled
                           label=Label.objects.get(name="GROUP"), model_label="CARDINAL")
    guerdane = MentionFactory(article=article, start=65, end=73, label=place)  # "Guerdane": resized
    monday = MentionFactory(article=article, start=77, end=83, label=place)    # rejected
    claim = ClaimFactory(article=article, start=0, end=40)
    decisions.confirm(essid.pk, version=1, by=analyst)
    decisions.relabel(fifty.pk, Label.objects.get(name="FIGURE"), version=1, by=analyst)
    decisions.resize(guerdane.pk, edge="start", grow=True, version=1, by=analyst)
    decisions.reject(monday.pk, version=1, by=analyst)
    decisions.add(article.pk, *span("extremists"), Label.objects.get(name="GROUP"), by=analyst)
    claim_decisions.confirm(claim.pk, version=1, by=analyst)
    decisions.submit(article.pk, by=analyst)
    return article


def test_the_reviewer_sees_each_mention_as_suggested_and_as_decided(worked):
    mentions, claims = review.changes(worked)
    verdicts = {change.item.text: (change.verdict, change.suggested and change.suggested["text"])
                for change in mentions}
    assert verdicts == {
        "Habib Essid": ("confirmed", "Habib Essid"),
        "about 50": ("relabelled", "about 50"),
        "Ben Guerdane": ("resized", "Guerdane"),
        "Monday": ("removed", "Monday"),
        "extremists": ("added", None),
    }
    fifty = next(c for c in mentions if c.item.text == "about 50")
    assert (fifty.suggested["label"], fifty.item.label.name, fifty.decided_by) == ("GROUP", "FIGURE", "alice")
    assert [(c.verdict, c.changed) for c in claims] == [("confirmed", False)]


def test_review_page_shows_changes_and_approve_for_another_reviewer(client, worked, reviewer):
    client.force_login(reviewer)
    html = client.get(reverse("annotation:article_review", args=[worked.pk])).content.decode()
    assert "relabelled" in html and "resized" in html and "removed" in html and "added" in html
    assert "Habib Essid" not in html  # unchanged rows only with ?all=1
    assert reverse("annotation:approve_article", args=[worked.pk]) in html
    assert "Habib Essid" in client.get(reverse("annotation:article_review", args=[worked.pk]) + "?all=1").content.decode()


def test_approve_locks_the_article(worked, reviewer, analyst):
    review.approve(worked.pk, by=reviewer)
    worked.refresh_from_db()
    assert worked.status == Article.Status.APPROVED
    assert Event.objects.filter(action="article.approve", actor=reviewer).exists()
    mention = worked.mentions.get(text="Habib Essid")
    with pytest.raises(decisions.Refused, match="approved"):
        decisions.reject(mention.pk, version=mention.version, by=analyst)
    with pytest.raises(decisions.Refused, match="approved: its claims can no longer be changed"):
        claim_decisions.reject(worked.claims.get().pk, version=2, by=analyst)
    with pytest.raises(decisions.Refused, match="approved: its claims can no longer be changed"):
        claim_decisions.add(worked.pk, 0, 5, by=analyst)
    with pytest.raises(decisions.Refused, match="approved: it cannot be submitted"):
        decisions.submit(worked.pk, by=analyst)


def test_a_reviewer_cannot_approve_their_own_work(article, db):
    both = UserFactory(username="bea", roles=["analyst", "reviewer"])
    essid = MentionFactory(article=article, start=15, end=26)
    decisions.confirm(essid.pk, version=1, by=both)
    decisions.submit(article.pk, by=both, even_if_undecided=True)
    with pytest.raises(decisions.Refused, match="another reviewer"):
        review.approve(article.pk, by=both)
    article.refresh_from_db()
    assert article.status == Article.Status.SUBMITTED


def test_self_approval_is_refused_through_the_view_too(client, article, db):
    both = UserFactory(username="bea", roles=["analyst", "reviewer"])
    decisions.submit(article.pk, by=both, even_if_undecided=True)
    client.force_login(both)
    page = client.get(reverse("annotation:article_review", args=[article.pk])).content.decode()
    assert "another reviewer approves it" in page
    response = client.post(reverse("annotation:approve_article", args=[article.pk]), follow=True)
    assert "another reviewer approves it" in response.content.decode()
    assert Article.objects.get(pk=article.pk).status == Article.Status.SUBMITTED


def test_return_with_comments_on_a_mention_a_claim_and_the_article(client, worked, reviewer, analyst):
    fifty = worked.mentions.get(text="about 50")
    claim = worked.claims.get()
    client.force_login(reviewer)
    client.post(reverse("annotation:return_article", args=[worked.pk]), {
        "comment": "Check the figures.", f"mention:{fifty.pk}": "A hedge is part of the figure?",
        f"claim:{claim.pk}": "Who said this?", f"mention:{fifty.pk + 999}": ""})
    worked.refresh_from_db()
    assert worked.status == Article.Status.RETURNED
    comments = {(c.mention_id, c.claim_id, c.text) for c in ReviewComment.objects.all()}
    assert comments == {(None, None, "Check the figures."), (fifty.pk, None, "A hedge is part of the figure?"),
                        (None, claim.pk, "Who said this?")}
    assert Event.objects.get(action="article.return").after == {"status": "returned", "comments": 3, "round": 1}
    # The analyst sees the comments on the article page and can work on it again.
    client.force_login(analyst)
    html = client.get(worked.get_absolute_url()).content.decode()
    assert "Returned by rita" in html and "A hedge is part of the figure?" in html and "Who said this?" in html
    decisions.confirm(worked.mentions.get(text="Habib Essid").pk, version=2, by=analyst)


def test_return_needs_a_comment_on_this_article_and_a_submitted_article(worked, reviewer):
    with pytest.raises(decisions.Refused, match="Say what needs another look"):
        review.return_article(worked.pk, [review.Comment("  ")], by=reviewer)
    other = MentionFactory(article=ArticleFactory(text="Another text."), start=0, end=7)
    with pytest.raises(decisions.Refused, match="not in this article"):
        review.return_article(worked.pk, [review.Comment("x", mention_id=other.pk)], by=reviewer)
    assert not ReviewComment.objects.exists()
    review.approve(worked.pk, by=reviewer)
    with pytest.raises(decisions.Refused, match="only a submitted article"):
        review.return_article(worked.pk, [review.Comment("late")], by=reviewer)


def test_reopen_is_explicit_and_recorded(client, worked, reviewer, analyst):
    review.approve(worked.pk, by=reviewer)
    client.force_login(analyst)
    assert client.post(reverse("annotation:reopen_article", args=[worked.pk]), {"reason": "x"}).status_code == 403
    client.force_login(reviewer)
    page = client.get(worked.get_absolute_url()).content.decode()
    assert reverse("annotation:reopen_article", args=[worked.pk]) in page
    with pytest.raises(decisions.Refused, match="Say why"):
        review.reopen(worked.pk, " ", by=reviewer)
    client.post(reverse("annotation:reopen_article", args=[worked.pk]), {"reason": "A name was missed."})
    worked.refresh_from_db()
    assert worked.status == Article.Status.RETURNED
    event = Event.objects.get(action="article.reopen")
    assert (event.actor, event.before, event.after["reason"]) == (reviewer, {"status": "approved"}, "A name was missed.")
    assert review.last_comments(worked)[0].text == "A name was missed."


def test_next_article_is_the_analysts_own_then_the_next_waiting_then_round_to_the_first(analyst, reviewer):
    first, done, here, new, later = (ArticleFactory(status=status) for status in (
        Article.Status.PRETAGGED, Article.Status.APPROVED, Article.Status.IN_PROGRESS,
        Article.Status.NEW, Article.Status.RETURNED))
    assert review.next_for(analyst, after=here) == later  # nothing of their own: the next waiting
    assert review.next_for(analyst, after=later) == first  # round to the first
    review.assign(Article.objects.filter(pk__in=[new.pk, first.pk]), analyst, by=reviewer)
    assert review.next_for(analyst, after=here) == first  # their own, pre-tagged before new
    Article.objects.exclude(pk=here.pk).update(status=Article.Status.APPROVED)
    assert review.next_for(analyst, after=here) is None


def test_assignments_fill_the_analysts_queue_returned_first(client, analyst, reviewer, other_analyst):
    first, second, third = (ArticleFactory(status=Article.Status.PRETAGGED) for _ in range(3))
    ArticleFactory(status=Article.Status.PRETAGGED)  # not assigned
    client.force_login(reviewer)
    client.post(reverse("annotation:assign_articles"),
                {"article": [first.pk, second.pk, third.pk], "analyst": analyst.username})
    assert Assignment.objects.filter(analyst=analyst).count() == 3
    assert Event.objects.filter(action="article.assign").count() == 3
    third.status = Article.Status.RETURNED
    third.save()
    assert list(review.my_queue(analyst)) == [third, first, second]
    assert list(review.my_queue(other_analyst)) == []
    assert review.next_for(analyst, after=third) == first
    client.force_login(analyst)
    html = client.get(reverse("annotation:my_articles")).content.decode()
    assert html.index(third.title) < html.index(first.title) < html.index(second.title)
    # Assigning twice adds nothing; only analysts take assignments.
    assert review.assign(Article.objects.filter(pk=first.pk), analyst, by=reviewer) == 0
    with pytest.raises(decisions.Refused, match="not an analyst"):
        review.assign(Article.objects.filter(pk=first.pk), reviewer, by=reviewer)


def test_review_queue_lists_submitted_articles_with_their_submitter(client, worked, reviewer):
    ArticleFactory(status=Article.Status.PRETAGGED, title="Not submitted")
    client.force_login(reviewer)
    html = client.get(reverse("annotation:review_list")).content.decode()
    assert worked.title in html and "alice" in html and "Not submitted" not in html


def test_the_article_list_offers_assignment_to_reviewers_only(client, analyst, reviewer):
    article = ArticleFactory(status=Article.Status.PRETAGGED)
    client.force_login(reviewer)
    html = client.get(reverse("corpus:article_list")).content.decode()
    assert 'id="assign-form"' in html and f'value="{article.pk}" form="assign-form"' in html
    assert '<option value="alice">' in html and '<option value="rita">' not in html
    review.assign(Article.objects.filter(pk=article.pk), analyst, by=reviewer)
    assert "assigned to alice" in client.get(reverse("corpus:article_list")).content.decode()
    client.force_login(analyst)
    assert 'id="assign-form"' not in client.get(reverse("corpus:article_list")).content.decode()
