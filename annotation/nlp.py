"""spaCy and nothing else: load the pipeline, find entities, return plain dataclasses.

Imports nothing from Django. The caller passes `nlp` in and the label map as data
({spaCy label: our label}), so the same functions serve the worker, the tests and the benchmarks.
"""

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span


@dataclass(frozen=True)
class FoundEntity:
    text: str
    label: str  # our label (ACTOR, GROUP, PLACE, FIGURE)
    start_char: int
    end_char: int
    model_label: str  # the spaCy label it came from


# Words that open a span in spaCy's output but sit outside it under the guidelines (C1).
_LEADING_WORDS = {"the", "a", "an"}
_POSSESSIVE = re.compile(r"['’]s?$")
# Nationality and religion adjectives or demonyms ("Tunisian", "Libyans", "Islamist"): NORP
# entities of this shape describe, they do not name a collective actor (GUIDELINES, C2).
_DEMONYM = re.compile(
    r"^(?:[A-Z][a-z]+(?:an|ans|ian|ians|ish|ese|i|is|ic|ist|ists|ch|ean|eans|ite|ites)|"
    r"French|Dutch|Swiss|Greek|Greeks|Thai|Arab|Arabs|Jew|Jews|Christian|Christians|"
    r"Muslim|Muslims|Sunni|Sunnis|Shia|Shiite|Shiites|Kurd|Kurds|Western|Westerners)$"
)


@Language.component("sourcemark_entity_rules")
def entity_rules(doc: Doc) -> Doc:
    """Rules that hold for any news article, applied to the statistical model's entities."""
    kept = []
    for ent in doc.ents:
        ent = _trim(ent)
        if ent is None:
            continue
        if ent.label_ == "NORP" and all(_DEMONYM.match(token.text) for token in ent):
            continue
        kept.append(ent)
    doc.ents = kept
    return doc


def _trim(ent: Span) -> Span | None:
    start, end = ent.start, ent.end
    doc = ent.doc
    while start < end and (doc[start].lower_ in _LEADING_WORDS or doc[start].text in {"#", "@"}):
        start += 1
    while start < end and (doc[end - 1].is_punct or _POSSESSIVE.fullmatch(doc[end - 1].text)):
        end -= 1
    if start >= end:
        return None
    return Span(doc, start, end, label=ent.label_)


def load(name: str) -> Language:
    """Load an installed pipeline package by name and add the project's components."""
    nlp = spacy.load(name)
    add_components(nlp)
    return nlp


def add_components(nlp: Language) -> Language:
    if "sourcemark_entity_rules" not in nlp.pipe_names:
        after = "ner" if "ner" in nlp.pipe_names else None
        if after:
            nlp.add_pipe("sourcemark_entity_rules", after=after)
        else:
            nlp.add_pipe("sourcemark_entity_rules", last=True)
    return nlp


def entities_of(doc: Doc, label_map: dict[str, str], *, offset: int = 0) -> list[FoundEntity]:
    return [
        FoundEntity(ent.text, label_map[ent.label_], ent.start_char + offset,
                    ent.end_char + offset, ent.label_)
        for ent in doc.ents
        if ent.label_ in label_map
    ]


def find_entities(nlp: Language, text: str, label_map: dict[str, str]) -> list[FoundEntity]:
    return entities_of(nlp(text), label_map)


def find_entities_in_bodies(
    nlp: Language,
    bodies: Iterable[tuple[str, int]],
    label_map: dict[str, str],
    *,
    batch_size: int = 32,
) -> Iterator[list[FoundEntity]]:
    """For each (body text, offset of the body in its article), the entities in article offsets."""
    bodies = list(bodies)
    docs = nlp.pipe((text for text, _ in bodies), batch_size=batch_size)
    for doc, (_, offset) in zip(docs, bodies):
        yield entities_of(doc, label_map, offset=offset)
