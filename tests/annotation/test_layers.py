"""Independent annotation: two analysts annotate one article blind to each other, each in a
private layer; the reviewer sees their agreement and differences, adjudicates into the shared
layer, and approves."""

import uuid

import pytest
from django.urls import reverse

from annotation import decisions, layers, review
from annotation.models import Assignment, Claim, Label, Mention
from corpus.models import Article
from tests.factories import ArticleFactory, ClaimFactory, MentionFactory

TEXT = "Habib Essid said about 50 extremists attacked Ben Guerdane. Tunisia closed the border."


def at(text: str) -> tuple[int, int]:
    return TEXT.index(text), TEXT.index(text) + len(text)


@pytest.fixture
def article(db):
    article = ArticleFactory(text=TEXT, status=Article.Status.PRETAGGED)
    place = Label.objects.get(name="PLACE")
    MentionFactory(article=article, start=0, end=11)                                   # Habib Essid
    MentionFactory(article=article, start=at("Ben Guerdane")[0], end=at("Ben Guerdane")[1], label=place)
    MentionFactory(article=article, start=at("Tunisia")[0], end=at("Tunisia")[1], label=place)
    ClaimFactory(article=article, start=at("about 50")[0], end=at("Guerdane")[1], speaker="Habib Essid",
                 speaker_start=0, speaker_end=11)
    return article


@pytest.fixture
def both(article, analyst, other_analyst, reviewer):
    review.assign(Article.objects.filter(pk=article.pk), analyst, by=reviewer, independent=True)
    review.assign(Article.objects.filter(pk=article.pk), other_analyst, by=reviewer, independent=True)
    return analyst, other_analyst


def post(client, name, pk, data=None):
    return client.post(reverse(f"annotation:{name}", args=[pk]), data or {},
                       headers={"HX-Request": "true", "Idempotency-Key": uuid.uuid4().hex})


def mine(article, user, text):
    return Mention.every_layer.get(article=article, annotator=user, text=text)


def test_each_independent_analyst_gets_a_private_copy_of_the_suggestions(article, both):
    alice, bob = both
    for user in both:
        assert sorted(Mention.every_layer.filter(annotator=user).values_list("text", "status")) == [
            ("Ben Guerdane", "suggested"), ("Habib Essid", "suggested"), ("Tunisia", "suggested")]
        claim = Claim.every_layer.get(annotator=user)
        # The copy's speaker is the copy of the mention, in the same private layer.
        assert claim.speaker_mention == mine(article, user, "Habib Essid")
    assert Mention.objects.filter(article=article).count() == 3  # the shared layer is untouched


def test_assigning_several_articles_seeds_each_layer_from_its_own_article(article, analyst, reviewer):
    """One assignment of several articles seeds every private layer at once, each from its own
    article: the machine's suggestions (the model's, the patterns', the imported ones, not an
    analyst's), each claim's speaker the copy of its mention in that layer. An article still new
    is seeded once pre-tagged, on a later look, and only once."""
    place = Label.objects.get(name="PLACE")
    other = ArticleFactory(text=TEXT + " Again.", status=Article.Status.IN_PROGRESS)
    MentionFactory(article=other, start=0, end=11, origin=Mention.Origin.PATTERN)      # Habib Essid
    MentionFactory(article=other, start=at("Tunisia")[0], end=at("Tunisia")[1], label=place,
                   origin=Mention.Origin.IMPORTED)
    MentionFactory(article=other, start=at("Ben Guerdane")[0], end=at("Ben Guerdane")[1], label=place,
                   origin=Mention.Origin.ANALYST)
    ClaimFactory(article=other, start=at("about 50")[0], end=at("Guerdane")[1], speaker="Habib Essid",
                 speaker_start=0, speaker_end=11)
    ClaimFactory(article=other, start=at("Tunisia")[0], end=at("border")[1], origin=Claim.Origin.ANALYST)
    new = ArticleFactory(text=TEXT + " Still new.", status=Article.Status.NEW)
    MentionFactory(article=new, start=0, end=11)

    review.assign(Article.objects.filter(pk__in=[article.pk, other.pk, new.pk]), analyst, by=reviewer,
                  independent=True)

    def layer(of):
        return sorted(Mention.every_layer.filter(article=of, annotator=analyst).values_list("text", "origin"))

    assert layer(article) == [("Ben Guerdane", "model"), ("Habib Essid", "model"), ("Tunisia", "model")]
    assert layer(other) == [("Habib Essid", "pattern"), ("Tunisia", "imported")]
    for seeded in (article, other):
        [claim] = Claim.every_layer.filter(article=seeded, annotator=analyst)
        assert claim.speaker_mention == mine(seeded, analyst, "Habib Essid")
    held = Assignment.objects.get(article=new, analyst=analyst)
    assert held.seeded_at is None and layer(new) == []

    stale = Assignment.objects.get(pk=held.pk)  # read before the seeding, as a concurrent look would
    Article.objects.filter(pk=new.pk).update(status=Article.Status.PRETAGGED)
    assert layers.seed(held) == 1 and held.seeded_at is not None
    assert layers.seed(stale) == 0
    assert layers.seed_many(Assignment.objects.filter(analyst=analyst)) == 0
    assert layer(new) == [("Habib Essid", "model")]


def test_analysts_work_blind_and_apart_then_the_reviewer_adjudicates(client, article, both, reviewer):
    alice, bob = both
    client.force_login(alice)
    page = client.get(article.get_absolute_url()).content.decode()
    assert "Your own annotation of this article" in page
    assert post(client, "confirm_mention", mine(article, alice, "Habib Essid").pk, {"version": 1}).status_code == 200
    assert post(client, "relabel_mention", mine(article, alice, "Tunisia").pk,
                {"version": 1, "label": "GROUP"}).status_code == 200
    # Bob's rows are not Alice's to touch.
    assert post(client, "confirm_mention", mine(article, bob, "Tunisia").pk, {"version": 1}).status_code == 404
    assert post(client, "submit_article", article.pk, {"even_if_undecided": "1"}).status_code == 200
    article.refresh_from_db()
    assert article.status == Article.Status.IN_PROGRESS  # Bob has not submitted yet
    assert post(client, "reject_mention", mine(article, alice, "Ben Guerdane").pk, {"version": 1}).status_code == 409

    client.force_login(bob)
    assert "Habib Essid" in client.get(article.get_absolute_url()).content.decode()
    post(client, "confirm_mention", mine(article, bob, "Tunisia").pk, {"version": 1})
    post(client, "reject_mention", mine(article, bob, "Habib Essid").pk, {"version": 1})
    post(client, "add_mention", article.pk, {"start": at("extremists")[0], "end": at("extremists")[1],
                                             "label": "GROUP"})
    post(client, "submit_article", article.pk, {"even_if_undecided": "1"})
    article.refresh_from_db()
    assert article.status == Article.Status.SUBMITTED
    # Nothing of either layer reached the shared one.
    assert set(Mention.objects.filter(article=article).values_list("status", flat=True)) == {"suggested"}

    comparison = review.compare(article)
    # A (alice): Habib Essid ACTOR, Ben Guerdane PLACE, Tunisia GROUP; B (bob): Ben Guerdane
    # PLACE, Tunisia PLACE, extremists GROUP (his rejected Habib Essid does not stand).
    assert (comparison.first, comparison.second) == ("alice", "bob")
    assert comparison.agreement["PLACE"].f1 == pytest.approx(2 * 1 / (1 + 2))
    assert comparison.agreement["all"].f1 == pytest.approx(2 * 1 / (3 + 3))
    kinds = sorted(d.kind.value for d in comparison.differences)
    assert kinds == ["label", "only_a", "only_b"]

    client.force_login(reviewer)
    html = client.get(reverse("annotation:article_review", args=[article.pk])).content.decode()
    assert "Agreement: alice (A) and bob (B)" in html and "3 differences" in html
    choices = {}
    for n, d in enumerate(comparison.differences):
        choices[f"diff-{n}"] = {"label": "b", "only_a": "a", "only_b": "neither"}[d.kind.value]
    with pytest.raises(decisions.Refused, match="adjudicate their differences first"):
        review.approve(article.pk, by=reviewer)
    client.post(reverse("annotation:adjudicate_article", args=[article.pk]), choices)
    shared = dict(Mention.objects.filter(article=article, status="confirmed").values_list("text", "label__name"))
    assert shared == {"Habib Essid": "ACTOR", "Ben Guerdane": "PLACE", "Tunisia": "PLACE"}
    assert not Mention.objects.filter(article=article, status="suggested").exists()
    # Both analysts' claims were the same, untouched: the claim is kept and confirmed.
    assert list(Claim.objects.filter(article=article).values_list("status", flat=True)) == ["confirmed"]
    # Adjudicating is not annotating: the reviewer may approve.
    review.approve(article.pk, by=reviewer)


def test_adjudication_needs_a_side_for_every_difference(client, article, both, reviewer):
    from annotation import decisions, layers

    for user in both:
        with layers.working_in(user.pk):
            if user.username == "bob":
                decisions.reject(mine(article, user, "Tunisia").pk, version=1, by=user)
            decisions.submit(article.pk, by=user, even_if_undecided=True)
    with pytest.raises(decisions.Refused, match="Choose a side for every difference"):
        review.adjudicate(article.pk, {}, by=reviewer)
    assert not Mention.objects.filter(article=article).exclude(status="suggested").exists()


def test_adjudication_refuses_a_side_that_holds_nothing(client, article, both, reviewer):
    """Only A has the difference (B rejected it): choosing B is refused with a message, not an
    error, and nothing is written (the form never offers it, but a request can ask)."""
    from annotation import decisions, layers

    for user in both:
        with layers.working_in(user.pk):
            if user.username == "bob":
                decisions.reject(mine(article, user, "Tunisia").pk, version=1, by=user)
            decisions.submit(article.pk, by=user, even_if_undecided=True)
    [difference] = review.compare(article).differences
    assert difference.kind.value == "only_a"
    client.force_login(reviewer)
    response = client.post(reverse("annotation:adjudicate_article", args=[article.pk]),
                           {"diff-0": "b"}, follow=True)
    assert response.status_code == 200
    assert "Difference 1 has nothing on the side chosen" in response.content.decode()
    assert not Mention.objects.filter(article=article).exclude(status="suggested").exists()


def test_adjudication_records_a_relabelled_mention_with_the_label_it_had(article, both, reviewer):
    """The reviewer keeps A's label where the analysts differ on one: the shared mention is
    relabelled, and its Event says what it was before (the review page reads the model's
    suggestion from it)."""
    group = Label.objects.get(name="GROUP")
    alice, bob = both
    with layers.working_in(alice.pk):
        decisions.relabel(mine(article, alice, "Tunisia").pk, group, version=1, by=alice)
    with layers.working_in(bob.pk):
        decisions.confirm(mine(article, bob, "Tunisia").pk, version=1, by=bob)
    for user in both:
        with layers.working_in(user.pk):
            decisions.submit(article.pk, by=user, even_if_undecided=True)
    [difference] = review.compare(article).differences
    assert difference.kind.value == "label"

    review.adjudicate(article.pk, {0: "a"}, by=reviewer)

    tunisia = Mention.objects.get(article=article, text="Tunisia")
    assert (tunisia.label.name, tunisia.status) == ("GROUP", "confirmed")
    event = article.events.get(action="adjudicate.mention", subject_id=tunisia.pk)
    assert (event.before["label"], event.before["status"]) == ("PLACE", "suggested")
    assert (event.after["label"], event.after["status"]) == ("GROUP", "confirmed")


def test_a_rejected_suggestion_under_a_standing_one_is_not_copied(article, analyst, reviewer):
    """In the shared layer a rejected suggestion may lie under one that stands; a private layer's
    copies all stand, so only the standing one is copied (they would overlap)."""
    rejected = Mention.objects.get(article=article, text="Ben Guerdane")
    Mention.objects.filter(pk=rejected.pk).update(status=Mention.Status.REJECTED)
    MentionFactory(article=article, start=at("Guerdane")[0], end=at("Guerdane")[1],
                   label=Label.objects.get(name="PLACE"), origin=Mention.Origin.PATTERN)

    review.assign(Article.objects.filter(pk=article.pk), analyst, by=reviewer, independent=True)

    assert sorted(Mention.every_layer.filter(article=article, annotator=analyst)
                  .values_list("text", "origin", "status")) == [
        ("Guerdane", "pattern", "suggested"), ("Habib Essid", "model", "suggested"),
        ("Tunisia", "model", "suggested")]
