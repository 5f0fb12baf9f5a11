"""The pre-tagger learns from decisions: confirmed names become patterns, what analysts keep
rejecting is no longer suggested."""

import pytest

from annotation import decisions, extraction, learning
from annotation import nlp as spacy_nlp
from annotation.models import Label, Mention, SuppressedSuggestion
from corpus import importing
from tests.factories import ArticleFactory, MentionFactory

# Invented names, so that nothing here depends on what the statistical model knows.
TRAIN = "Officials said the convoy reached Qalat Bishr on Tuesday.\nThe Zanjar Front denied it."
NEW = "Fighting spread to Qalat Bishr, and the Zanjar Front withdrew."


@pytest.fixture
def clean_nlp(nlp):
    yield nlp
    spacy_nlp.apply_knowledge(nlp, [], "none")  # the session's pipeline forgets what it learnt


def confirmed_import(text: str, spans: list[tuple[str, str]]) -> None:
    """Spans as (name, label), found from the end so a surname after its full name works."""
    rows = [importing.Row(file="t", number=1, text=text, title="t", spans=sorted(
        (text.rindex(name), text.rindex(name) + len(name), label) for name, label in spans))]
    importing.store_confirmed(importing.ImportBatch.objects.create(confirmed=True), rows)


def test_confirmed_names_are_suggested_in_new_articles_with_their_label(db, clean_nlp):
    confirmed_import(TRAIN, [("Qalat Bishr", "PLACE"), ("Zanjar Front", "GROUP")])
    article = ArticleFactory(text=NEW)
    extraction.pretag(article, nlp=clean_nlp)
    found = {m.text: (m.label.name, m.origin) for m in article.mentions.select_related("label")}
    assert found["Qalat Bishr"] == ("PLACE", "pattern")
    assert found["Zanjar Front"] == ("GROUP", "pattern")


def test_before_learning_the_same_text_gets_no_such_pattern(db, clean_nlp):
    article = ArticleFactory(text=NEW)
    extraction.pretag(article, nlp=clean_nlp)
    assert not article.mentions.filter(origin="pattern").exists()


def test_an_accepted_alias_is_learnt_too(db, clean_nlp, analyst):
    confirmed_import("Abu Karim Zehawi spoke. Later Zehawi left.", [("Abu Karim Zehawi", "ACTOR"),
                                                                     ("Zehawi", "ACTOR")])
    names = {p["pattern"] for p in learning.knowledge().patterns}
    assert {"Abu Karim Zehawi"} <= names
    surname = Mention.objects.get(text="Zehawi")
    assert surname.link_reason == "surname of Abu Karim Zehawi"
    from annotation import linking

    linking.accept(surname, by=analyst)
    assert "Zehawi" in {p["pattern"] for p in learning.knowledge().patterns}


def test_a_suggestion_rejected_twice_and_never_confirmed_is_suppressed(db, clean_nlp, analyst):
    place = Label.objects.get(name="PLACE")
    for n in range(2):
        article = ArticleFactory(text=f"Reports from Qalat Bishr arrived ({n}).", status="pretagged")
        mention = MentionFactory(article=article, start=13, end=24, label=place)
        decisions.reject(mention.pk, version=1, by=analyst)
    row = SuppressedSuggestion.objects.get(text="qalat bishr", label=place)
    assert (row.rejections, row.active) == (2, True)
    fresh = ArticleFactory(text="Reports from Qalat Bishr arrived again.")
    found = next(extraction.suggest(clean_nlp, [(fresh.body, 0)]))
    assert ("Qalat Bishr", "PLACE") not in {(f.text, f.label) for f in found}


def test_one_confirmation_keeps_a_text_suggested(db, analyst):
    place = Label.objects.get(name="PLACE")
    for n, status in enumerate(("rejected", "rejected", "confirmed")):
        article = ArticleFactory(text=f"Reports from Qalat Bishr arrived ({n}).", status="pretagged")
        mention = MentionFactory(article=article, start=13, end=24, label=place)
        (decisions.reject if status == "rejected" else decisions.confirm)(mention.pk, version=1, by=analyst)
    assert SuppressedSuggestion.objects.get(text="qalat bishr").active is False


def test_a_pinned_suppression_is_left_alone_by_counting(db, analyst):
    place = Label.objects.get(name="PLACE")
    SuppressedSuggestion.objects.create(text="qalat bishr", label=place, active=True, pinned=True)
    article = ArticleFactory(text="Reports from Qalat Bishr arrived.", status="pretagged")
    mention = MentionFactory(article=article, start=13, end=24, label=place)
    decisions.confirm(mention.pk, version=1, by=analyst)
    assert SuppressedSuggestion.objects.get(text="qalat bishr").active is True


def test_the_knowledge_fingerprint_changes_with_what_was_learnt(db):
    before = learning.knowledge().fingerprint
    confirmed_import(TRAIN, [("Qalat Bishr", "PLACE")])
    assert learning.knowledge().fingerprint != before
