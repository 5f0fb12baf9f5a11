"""The entity linker's rules, on the seed texts."""

import pytest

from annotation import decisions, linking
from annotation.models import Entity, Event, Label, Mention
from tests.factories import MentionFactory


def suggestion_at(article, text: str, label: str, *, occurrence: int = 0) -> Mention:
    start = -1
    for _ in range(occurrence + 1):
        start = article.text.index(text, start + 1)
    return MentionFactory(article=article, start=start, end=start + len(text),
                          label=Label.objects.get(name=label))


def confirm(mention: Mention, by) -> Mention:
    return decisions.confirm(mention.pk, version=mention.version, by=by)


@pytest.fixture
def troops(seed_articles):
    return seed_articles[2]  # "Tunisian troops pursue jihadists…", Lamine Ghanmi


def test_first_confirmed_name_creates_its_entity(troops, analyst):
    essid = confirm(suggestion_at(troops, "Habib Essid", "ACTOR"), analyst)
    assert (essid.entity.name, essid.entity.label.name, essid.entity_accepted) == ("Habib Essid", "ACTOR", True)
    assert essid.link_reason == "new entity"


def test_same_name_elsewhere_links_to_the_same_entity(troops, analyst):
    first = confirm(suggestion_at(troops, "Ben Guerdane", "PLACE"), analyst)
    again = confirm(suggestion_at(troops, "Ben Guerdane", "PLACE", occurrence=1), analyst)
    assert again.entity == first.entity and again.entity_accepted
    assert Entity.objects.count() == 1


def test_surname_links_to_the_full_name_earlier_in_the_article(troops, analyst):
    confirm(suggestion_at(troops, "Habib Essid", "ACTOR"), analyst)
    surname = confirm(suggestion_at(troops, "Essid", "ACTOR", occurrence=1), analyst)
    assert surname.entity.name == "Habib Essid"
    assert (surname.entity_accepted, surname.link_reason) == (False, "surname of Habib Essid")


def test_accepting_a_suggested_link_makes_the_name_an_alias(troops, analyst):
    confirm(suggestion_at(troops, "Habib Essid", "ACTOR"), analyst)
    surname = confirm(suggestion_at(troops, "Essid", "ACTOR", occurrence=1), analyst)
    linking.accept(surname, by=analyst)
    entity = Entity.objects.get()
    assert entity.aliases == ["Essid"]
    assert linking.suggest(suggestion_at(troops, "Essid", "ACTOR", occurrence=2)).reason == \
        "known alias of Habib Essid"


def test_acronym_links_to_its_expansion_in_the_same_article(seed_articles, analyst):
    sirte = seed_articles[1]  # "…Libya’s Government of National Accord (GNA)…"
    confirm(suggestion_at(sirte, "Government of National Accord", "GROUP"), analyst)
    gna = confirm(suggestion_at(sirte, "GNA", "GROUP"), analyst)
    assert gna.entity.name == "Government of National Accord"
    assert gna.link_reason == "acronym of Government of National Accord"


def test_spelling_variant_across_articles(seed_articles, analyst):
    gardane = confirm(suggestion_at(seed_articles[0], "Ben Gardane", "PLACE"), analyst)
    guerdane = confirm(suggestion_at(seed_articles[2], "Ben Guerdane", "PLACE"), analyst)
    assert guerdane.entity == gardane.entity
    assert guerdane.link_reason == "spelling variant of Ben Gardane"
    assert not guerdane.entity_accepted


def test_another_label_is_another_entity(troops, analyst):
    place = confirm(suggestion_at(troops, "Tunisia", "PLACE"), analyst)
    group = confirm(suggestion_at(troops, "Tunisia", "GROUP", occurrence=1), analyst)
    assert place.entity != group.entity


def test_figures_are_not_linked(troops, analyst):
    figure = confirm(suggestion_at(troops, "36", "FIGURE"), analyst)
    assert figure.entity is None


def test_change_links_to_another_entity_and_clear_removes_the_link(troops, analyst):
    essid = confirm(suggestion_at(troops, "Habib Essid", "ACTOR"), analyst)
    linking.change(essid, "Habib Essid (Tunisia)", by=analyst)
    essid.refresh_from_db()
    assert essid.entity.name == "Habib Essid (Tunisia)"
    linking.clear(essid, by=analyst)
    essid.refresh_from_db()
    assert essid.entity is None and essid.link_reason == "cleared by the analyst"
    assert Event.objects.filter(action="mention.link", subject_id=essid.pk).count() == 3


def test_rename_keeps_the_old_name_as_an_alias(troops, analyst):
    entity = confirm(suggestion_at(troops, "Habib Essid", "ACTOR"), analyst).entity
    linking.rename(entity, "Habib Essid (PM)", by=analyst)
    entity.refresh_from_db()
    assert (entity.name, entity.aliases) == ("Habib Essid (PM)", ["Habib Essid"])
    assert "habib essid" in entity.keys


def test_merge_moves_mentions_and_names(seed_articles, analyst):
    gardane = confirm(suggestion_at(seed_articles[0], "Ben Gardane", "PLACE"), analyst).entity
    guerdane_entity = Entity.objects.create(name="Ben Guerdane", label=gardane.label)
    mention = suggestion_at(seed_articles[2], "Ben Guerdane", "PLACE")
    Mention.objects.filter(pk=mention.pk).update(entity=guerdane_entity)
    linking.merge(guerdane_entity, gardane, by=analyst)
    gardane.refresh_from_db()
    assert gardane.aliases == ["Ben Guerdane"]
    assert Mention.objects.get(pk=mention.pk).entity == gardane
    assert not Entity.objects.filter(pk=guerdane_entity.pk).exists()


def test_merging_entities_of_different_labels_is_refused(db, analyst):
    place = Entity.objects.create(name="Tunisia", label=Label.objects.get(name="PLACE"))
    group = Entity.objects.create(name="Tunisia", label=Label.objects.get(name="GROUP"))
    with pytest.raises(ValueError, match="relabel first"):
        linking.merge(place, group, by=analyst)


@pytest.mark.parametrize(("written", "normalised"), [
    ("the Wall Street Journal", "wall street journal"), ("Essid’s", "essid"), ("#Ras_lanuf", "ras lanuf"),
    ("  Ben   Guerdane ", "ben guerdane"),
])
def test_names_are_compared_normalised(written, normalised):
    assert linking.normalise_name(written) == normalised


def test_a_resized_mention_is_linked_again_by_its_new_words(troops, analyst):
    start = troops.text.index("Libya.")
    libya = confirm(MentionFactory(article=troops, start=start, end=start + 5,
                                   label=Label.objects.get(name="PLACE")), analyst)
    widened = decisions.resize(libya.pk, edge="end", grow=True, version=libya.version, by=analyst)
    assert (widened.text, widened.entity.name) == ("Libya.", "Libya")  # end punctuation is no part of a name
    grown = decisions.resize(widened.pk, edge="start", grow=True, version=widened.version, by=analyst)
    # Its words are no longer the entity's name: linked again, here as a suggestion to accept.
    assert (grown.text, grown.link_reason, grown.entity_accepted) == (
        "with Libya.", "spelling variant of Libya", False)
