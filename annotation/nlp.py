"""spaCy and nothing else: load the pipeline, find entities, return plain dataclasses.

Imports nothing from Django. The caller passes `nlp` in and the label map as data
({spaCy label: our label}), so the same functions serve the worker, the tests and the benchmarks.

`add_components` puts the annotation guidelines (GUIDELINES.md, conventions C1-C8) after the
statistical `ner`, as rules that hold for any English news article: token shape, part of speech,
the words around a name, and consistency inside one document. No name of a person, place or
group appears in this module; its word lists are closed classes (titles, prepositions, hedges,
units, generic heads).

    tokenizer                 "U.N.-brokered" -> "U.N." "-" "brokered", so the model sees "U.N."
    sourcemark_figure_rules   FIGURE spans: hedges and units in, emphasisers out; no durations,
                              ages, years or numbers in names (C5-C7)
    sourcemark_entity_rules   ACTOR/GROUP/PLACE spans: boundaries (C1), no demonyms (C2), names
                              the model missed, then one label per name in the document

spaCy's own components run as shipped, with one change that leaves their output as it was:
the attribute ruler looks its matches up by the token's word, tag and dependency instead of
running its patterns over every token (`_AttributeMatches`: it took 12-13% of the pipeline's
time on news, as much as the parser; now 3%). `load(name, stock=True)` leaves that out (the
benchmarks' full baseline).
"""

import operator
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import spacy
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.pipeline import AttributeRuler
from spacy.tokens import Doc, Span, Token
from spacy.util import filter_spans

from annotation import claims as claim_finder


@dataclass(frozen=True)
class FoundEntity:
    text: str
    label: str  # our label (ACTOR, GROUP, PLACE, FIGURE)
    start_char: int
    end_char: int
    model_label: str  # the spaCy label it came from (our label, for a learnt pattern)
    origin: str = "model"  # "pattern" when a learnt name matched


# =============================================================================================
# Closed word classes (lower case unless said otherwise)
# =============================================================================================

_FIGURE_LABELS = {"CARDINAL", "QUANTITY", "PERCENT", "MONEY"}
_HARD_LABELS = {"DATE", "TIME", "ORDINAL"}  # hold their tokens against name rules
# spaCy's name labels and the class each one votes for.
_NAME_CLASS = {"PERSON": "PERSON", "ORG": "ORG", "NORP": "ORG", "GPE": "GPE", "LOC": "GPE",
               "FAC": "GPE"}

# Words that open a span in spaCy's output but sit outside it under the guidelines (C1).
_LEADING_WORDS = {"the", "a", "an"}
_POSSESSIVE = re.compile(r"['’]s?$")
# Nationality and religion adjectives or demonyms ("Tunisian", "Libyans", "Islamist") (C2).
_DEMONYM = re.compile(
    r"^(?:[A-Z][a-z]+(?:an|ans|ian|ians|ish|ese|i|is|ic|ist|ists|ch|ean|eans|ite|ites)|"
    r"French|Dutch|Swiss|Greek|Greeks|Thai|Arab|Arabs|Jew|Jews|Christian|Christians|"
    r"Muslim|Muslims|Sunni|Sunnis|Shia|Shiite|Shiites|Kurd|Kurds|Western|Westerners)$"
)
_DEMONYM_WORDS = {"French", "Dutch", "Swiss", "Greek", "Thai", "Arab", "Christian", "Muslim",
                  "Sunni", "Shia", "Shiite", "Kurd", "Western"}
_COMPASS = {"north", "south", "east", "west", "northeast", "northwest", "southeast", "southwest",
            "north-east", "north-west", "south-east", "south-west", "northern", "southern",
            "eastern", "western", "central", "-"}
# "in central Mali", "near northern X": the preposition still points at the name.
_REGION_ADJECTIVES = {"central", "northern", "southern", "eastern", "western", "northeastern",
                      "northwestern", "southeastern", "southwestern", "north", "south", "east",
                      "west", "rural", "coastal", "neighbouring", "neighboring", "downtown"}
# Titles and ranks: outside ACTOR spans (C1); capitalised before a name, they mark a person.
_TITLES = {"president", "vice", "prime", "minister", "secretary", "general", "gen", "gen.",
           "colonel", "col", "col.", "major", "maj", "maj.", "captain", "capt", "capt.",
           "lieutenant", "lt", "lt.", "sergeant", "sgt", "sgt.", "brigadier", "commander",
           "marshal", "field", "admiral", "rear", "staff", "mr", "mr.", "mrs", "mrs.", "ms", "ms.",
           "dr", "dr.", "king", "queen", "prince", "princess", "emir", "sheikh", "sheikha",
           "imam", "pope", "sir", "lord", "lady", "saint", "st", "st.", "chancellor", "governor",
           "mayor", "senator", "sen.", "rep.", "ambassador", "judge", "speaker", "deputy",
           "foreign", "defence", "defense", "interior", "chief"}
# Role nouns: "researcher X", "his counterpart, X", "X, a spokesman": X is a person.
_ROLES = {"spokesman", "spokeswoman", "spokesperson", "researcher", "analyst", "expert",
          "specialist", "official", "commander", "leader", "chief", "envoy", "ambassador",
          "director", "minister", "counterpart", "journalist", "reporter", "correspondent",
          "professor", "founder", "chairman", "chairwoman", "head", "member", "lawmaker",
          "mp", "deputy", "adviser", "advisor", "activist", "resident", "witness", "father",
          "mother", "son", "daughter", "brother", "sister", "wife", "husband", "pioneer",
          "fighter", "militant", "soldier", "officer", "colonel", "general", "president",
          "secretary", "negotiator", "mediator", "candidate", "cleric", "scholar", "author",
          "writer", "editor", "lawyer", "prosecutor", "governor", "mayor", "emir", "sheikh"}
# Lower-case particles inside names: "al-Sham", "bin Salman", "wal-Muslimin", "Le Drian".
_NAME_PARTICLES = {"al", "el", "ad", "as", "ar", "an", "ash", "at", "az", "wal", "bin", "ibn",
                   "bint", "abu", "ould", "de", "du", "da", "di", "van", "von", "der", "la", "le"}
# Generic heads after a name that stay out of the span (C1: "Islamic State group", "X city").
_DROPPED_HEADS = {"group", "militia", "city", "region", "province", "organisation",
                  "organization", "movement", "faction", "town"}
# Generic heads that stay in the span, because the bare name denotes something else (C1:
# "Maitiqa base", "Misrata brigades", "Carnegie centre"), with the label they give.
_KEPT_HEADS = {"base": "FAC", "gate": "FAC", "airport": "FAC", "airbase": "FAC",
               "checkpoint": "FAC", "crossing": "FAC", "camp": "FAC", "prison": "FAC",
               "field": "FAC", "oilfield": "FAC", "port": "FAC", "barracks": "FAC",
               "bridge": "FAC", "dam": "FAC", "refinery": "FAC", "terminal": "FAC",
               "brigades": "ORG", "brigade": "ORG", "battalion": "ORG", "battalions": "ORG",
               "centre": "ORG", "center": "ORG", "institute": "ORG"}
# Capitalised last words that make a run of capitalised words an organisation's name.
_ORG_WORDS = {"forum", "council", "institute", "institution", "center", "centre", "group",
              "party", "front", "agency", "ministry", "committee", "commission", "union",
              "alliance", "organisation", "organization", "foundation", "association", "court",
              "parliament", "assembly", "army", "brigade", "brigades", "movement", "network",
              "corporation", "company", "bank", "university", "academy", "service", "services",
              "journal", "times", "news", "post", "tribune", "herald", "observatory", "coalition",
              "federation", "authority", "office", "department", "bureau", "guard", "guards",
              "forces", "force", "congress", "senate", "house", "cabinet", "mission", "fund",
              "programme", "program", "watch", "international", "initiative", "unit"}
# Words for the armed members of a group: "X militants" makes X a group (demonyms excluded).
_COMBATANTS = {"militants", "fighters", "jihadists", "jihadis", "insurgents", "militiamen"}
# After a name, or in an apposition: "X newspaper", "X, the dominant rebel group".
_ORG_NOUNS = {"newspaper", "daily", "weekly", "agency", "channel", "broadcaster", "tv",
              "television", "radio", "website", "group", "militia", "militias", "movement",
              "party", "organisation", "organization", "faction", "network", "brigade",
              "brigades", "battalion", "coalition", "alliance", "think-tank", "tank"}
# Nouns for places: "the town of X", "the capital X", "X, a coastal town".
_PLACE_NOUNS = {"town", "city", "village", "commune", "capital", "region", "province", "district",
                "area", "port", "hometown", "governorate", "outskirts", "suburb", "suburbs",
                "municipality", "island", "oasis", "neighbourhood", "neighborhood", "county",
                "state", "country", "enclave", "territory", "valley", "desert", "coast",
                "border", "frontier", "center", "centre", "heart", "streets", "cities", "towns",
                "villages", "regions", "provinces", "areas", "field", "fields", "crossing"}
_PLACE_PREPOSITIONS = {"in", "near", "outside", "inside", "into", "across", "towards", "toward",
                       "throughout", "around", "nearby"}
# Bare generic bodies: not names, even capitalised or after a demonym (C4: "the army",
# "Tunisian Authorities", "Libyan military sources").
_GENERIC_BODIES = {"authorities", "authority", "government", "army", "forces", "force", "troops",
                   "police", "military", "officials", "official", "sources", "security",
                   "ministry", "navy", "intelligence", "services", "media", "citizens", "people",
                   "militants", "fighters", "rebels", "opposition", "special", "coast", "guard",
                   "guards", "regime", "state", "air", "administration", "parliament", "embassy",
                   "side", "leaders", "leadership", "press", "officers", "soldiers", "experts"}
# Ministry portfolios: lower-case state bodies with a conventional title (C4), and the
# portfolio inside a title ("Secretary of State", "Interior Minister"), which is not a group.
_PORTFOLIOS = {"interior", "defense", "defence", "foreign", "finance", "justice", "health",
               "education", "information", "energy", "oil", "economy", "trade", "state",
               "foreign affairs", "home", "religious", "social", "labour", "labor"}
_GUARDS = {"national", "republican", "presidential", "revolutionary"}
_UNITY_GOVERNMENTS = {"accord", "unity", "salvation", "consensus"}
# All-capital words that are not names (abbreviations of common nouns and units).
_NOT_ACRONYMS = {"ID", "IDS", "TV", "AM", "PM", "OK", "GMT", "UTC", "CEO", "DNA", "HIV", "AIDS",
                 "COVID", "IED", "IEDS", "RPG", "SUV", "AK", "MP", "MPS", "FM", "AD", "BC",
                 "PDF", "URL", "USD", "EUR", "GDP", "VIP", "SMS", "GPS", "HQ", "PR", "CV", "DIY",
                 "FAQ", "ATM", "KM", "MM", "CM", "KG", "UHF", "VHF"}
_ACRONYM = re.compile(r"^(?:[A-Z]{2,6}|(?:[A-Z]\.){2,4})$")
_ROMAN = re.compile(r"^[IVXLC]+$")
_CAMEL = re.compile(r"[a-z][A-Z]")  # "ArraedLG", "NorthPress": a handle, not a person
_SURNAME = re.compile(r"^[^\W\d_]")
_DASHES = {"-", "—", "–", "--"}
_LINE_BREAK = re.compile(r"[\n\r\u2028\u2029]")

# Figures (C5-C7)
_HEDGES = [("at", "least"), ("at", "most"), ("more", "than"), ("less", "than"),
           ("fewer", "than"), ("up", "to"), ("as", "many", "as"), ("as", "much", "as"),
           ("an", "estimated"), ("about",), ("around",), ("some",), ("nearly",), ("almost",),
           ("roughly",), ("approximately",), ("over",), ("under",), ("between",),
           ("estimated",), ("close", "to")]
_HEDGE_WORDS = {word for hedge in _HEDGES for word in hedge}
_EMPHASISERS = {"just", "only", "merely", "mere", "a"}
# Units and currencies stay in a FIGURE span; counted nouns ("36 attackers") do not.
_UNITS = {"percent", "cent", "%", "km", "kilometres", "kilometers", "kilometre", "kilometer",
          "miles", "mile", "metres", "meters", "tonnes", "tons", "barrels", "bpd", "litres",
          "liters", "hectares", "acres", "dollars", "euros", "pounds", "dinars", "riyals", "lira",
          "million", "billion", "trillion", "square", "sq"}
_DURATION_UNITS = {"second", "seconds", "minute", "minutes", "hour", "hours", "day", "days",
                   "week", "weeks", "month", "months", "year", "years", "decade", "decades",
                   "century", "centuries", "night", "nights", "year-old", "years-old", "old"}
_YEAR_PREPOSITIONS = {"in", "since", "until", "till", "by", "from", "before", "after", "during",
                      "of", "to"}
# Words before (or after) a number that make it part of a name, with the label of the name
# when it names a unit ("battalion 131", "the 444 Brigade") (C1, C7).
_NUMBERED_NAMES = {"battalion": "ORG", "brigade": "ORG", "regiment": "ORG", "division": "ORG",
                   "squadron": "ORG", "unit": "ORG", "resolution": None, "article": None,
                   "route": None, "highway": None, "flight": None, "no": None, "no.": None,
                   "number": None, "camp": None, "building": None, "room": None}
# Vague number words that count (C6); "several" and "many" do not.
_VAGUE_NUMBERS = {"dozens", "hundreds", "thousands", "millions", "scores"}
_FOLD = re.compile(r"^(?:two|three|four|five|six|seven|eight|nine|ten|\d+)-?fold$")

# Tokenizer additions, so that the model itself sees the name (C2): a hyphen after a dotted
# abbreviation ("U.N.-brokered", "U.S.-led"), and a dash glued to the end of a word or a number
# in scraped text (a dateline "Tunis- Officials said", "battalion 131- according").
_INFIX_AFTER_ABBREVIATION = r"(?<=[A-Z]\.)-(?=[a-z])"
_SUFFIX_DASH = r"(?<=[A-Za-z0-9])-$"


# =============================================================================================
# Loading and output
# =============================================================================================

def load(name: str, *, stock: bool = False) -> Language:
    """Load an installed pipeline package by name and add the project's components. With
    `stock`, spaCy's own components stay exactly as shipped (the same output, only slower: see
    `_AttributeMatches`), for the benchmarks' full baseline."""
    nlp = spacy.load(name)
    add_components(nlp, stock=stock)
    return nlp


_COMPONENTS = ("sourcemark_figure_rules", "sourcemark_entity_rules")


def add_components(nlp: Language, *, stock: bool = False) -> Language:
    _split_glued_hyphens(nlp.tokenizer)
    if not stock:
        _cache_attribute_matches(nlp)
    after = "ner" if "ner" in nlp.pipe_names else None
    for name in _COMPONENTS:
        if name not in nlp.pipe_names:
            if after:
                nlp.add_pipe(name, after=after)
            else:
                nlp.add_pipe(name, last=True)
        after = name
    return nlp


def _split_glued_hyphens(tokenizer) -> None:
    infix = getattr(tokenizer.infix_finditer, "__self__", None)
    if infix is not None and _INFIX_AFTER_ABBREVIATION not in infix.pattern:
        pattern = f"{infix.pattern}|{_INFIX_AFTER_ABBREVIATION}"
        tokenizer.infix_finditer = re.compile(pattern).finditer
    suffix = getattr(tokenizer.suffix_search, "__self__", None)
    if suffix is not None and _SUFFIX_DASH not in suffix.pattern:
        tokenizer.suffix_search = re.compile(f"{suffix.pattern}|{_SUFFIX_DASH}").search


# -- spaCy's attribute ruler, its matches looked up -------------------------------------------

def _cache_attribute_matches(nlp: Language) -> None:
    for _, component in nlp.pipeline:
        if isinstance(component, AttributeRuler) \
                and not isinstance(component.__dict__.get("match"), _AttributeMatches):
            component.match = _AttributeMatches(component)


class _AttributeMatches:
    """`AttributeRuler.match` with the same result, for a fraction of the cost.

    The ruler of the English pipelines maps each token's fine tag to its part of speech and
    morphology, with exceptions for some words and dependencies: 179 patterns in
    en_core_web_sm, most of them with set predicates that spaCy's Matcher evaluates in Python at
    every token (25-40 µs a token here, as long as the parser takes). A one-token pattern
    without operators matches or not on the token attributes it names alone, so its matches
    are a function of those attributes (here the lower-case word, the tag, the dependency and
    whether it is a space): worked out once by the ruler's own patterns, on a stand-in token,
    and looked up afterwards (4-5 µs a token; 13 µs on 25 articles from an empty cache). The
    patterns over more than one token, or over any other attribute, run over the whole
    document as before. The matches are then sorted as the ruler sorts them, and it sets the
    attributes itself."""

    # Pattern keys a one-token pattern may test, and the token attribute that decides each.
    _KEYS = {"ORTH": "orth", "TEXT": "orth", "LOWER": "lower", "NORM": "norm", "TAG": "tag",
             "POS": "pos", "DEP": "dep", "LEMMA": "lemma", "IS_SPACE": "is_space"}
    _LIMIT = 200_000  # cached keys: a few hundred bytes each; beyond it, start again

    def __init__(self, ruler: AttributeRuler):
        self.ruler = ruler
        self._build()

    def _build(self) -> None:
        ruler = self.ruler
        self.size = len(ruler.attrs)
        self.one_token = Matcher(ruler.vocab, validate=False)
        self.others = Matcher(ruler.vocab, validate=False)
        names: set[str] = set()
        for index in range(self.size):
            key = str(index)  # AttributeRuler.add names its pattern groups by their index
            _, patterns = ruler.matcher.get(key)
            if all(len(pattern) == 1 and set(pattern[0]) <= self._KEYS.keys()
                   for pattern in patterns):
                names.update(self._KEYS[name] for pattern in patterns for name in pattern[0])
                self.one_token.add(key, patterns)
            else:
                self.others.add(key, patterns)
        # The word decides orth, lower and is_space; the others are set on a stand-in token.
        self.names = ("orth", *sorted(names - {"orth", "lower", "is_space"}))
        self.attributes = operator.attrgetter(*sorted(names)) if names else None
        self.cache: dict = {}

    def __call__(self, doc: Doc) -> list[tuple[int, int, int, int]]:
        if len(self.ruler.attrs) != self.size:  # patterns were added since
            self._build()
        strings = self.ruler.vocab.strings
        matches = []
        if self.attributes is not None:
            cache, attributes = self.cache, self.attributes
            if len(cache) > self._LIMIT:
                cache.clear()
            keys = [attributes(token) for token in doc]
            missing = {key: token for key, token in zip(keys, doc) if key not in cache}
            if missing:
                self._learn(missing)
            for i, key in enumerate(keys):
                for attr_id, match_id in cache[key]:
                    matches.append((attr_id, match_id, i, i + 1))
        if len(self.others):
            matches.extend((int(strings[match_id]), match_id, start, end)
                           for match_id, start, end in self.others(doc, allow_missing=True))
        matches.sort()  # by pattern index: later patterns have precedence, as in the ruler
        return matches

    def _learn(self, missing: dict[tuple, Token]) -> None:
        """Match the one-token patterns once over stand-ins for the tokens not seen before: a
        document of those words with the attributes the patterns test copied over."""
        strings = self.ruler.vocab.strings
        rows = [[getattr(token, name) for name in self.names] for token in missing.values()]
        probe = Doc(self.ruler.vocab, words=[strings[row[0]] for row in rows],
                    spaces=[False] * len(rows))
        for token, row in zip(probe, rows):
            for name, value in zip(self.names[1:], row[1:]):
                setattr(token, name, value)
        found: list[list[tuple[int, int]]] = [[] for _ in rows]
        for match_id, start, _ in self.one_token(probe, allow_missing=True):
            found[start].append((int(strings[match_id]), match_id))
        for key, each in zip(missing, found):
            self.cache[key] = tuple(each)


LEARNED = "sourcemark_learned"
_applied: dict[int, str] = {}  # id(nlp) → fingerprint of the knowledge it holds


def apply_knowledge(nlp: Language, patterns: list[dict], fingerprint: str) -> None:
    """Names the analysts confirmed, as patterns with their label (ours, e.g. "PLACE"), matched
    after every other rule and winning over them. Rebuilt only when the knowledge changed."""
    if _applied.get(id(nlp)) == fingerprint:
        return
    if LEARNED in nlp.pipe_names:
        nlp.remove_pipe(LEARNED)
    if patterns:
        ruler = nlp.add_pipe("entity_ruler", name=LEARNED, last=True,
                             config={"overwrite_ents": True, "validate": False})
        with nlp.select_pipes(enable=[]):
            ruler.add_patterns(patterns)
    _applied[id(nlp)] = fingerprint


def entities_of(doc: Doc, label_map: dict[str, str], *, offset: int = 0) -> list[FoundEntity]:
    """Entities with a label the map knows. A learnt pattern's label is already ours."""
    return [
        FoundEntity(ent.text, label_map.get(ent.label_) or ent.label_, ent.start_char + offset,
                    ent.end_char + offset, ent.label_, "pattern" if ent.ent_id_ else "model")
        for ent in doc.ents
        if ent.label_ in label_map or ent.ent_id_
    ]


def find_entities(nlp: Language, text: str, label_map: dict[str, str]) -> list[FoundEntity]:
    return entities_of(nlp(text), label_map)


@dataclass(frozen=True)
class Analysis:
    """What the pre-tagger finds in one body: entity suggestions and claim suggestions."""

    entities: list[FoundEntity]
    claims: list[claim_finder.FoundClaim]


def analyse_bodies(nlp: Language, bodies: Iterable[tuple[str, int]], label_map: dict[str, str], *,
                   batch_size: int = 32) -> Iterator[Analysis]:
    """For each (body text, offset of the body in its article), its entities and claims in
    article offsets, from one parse."""
    bodies = list(bodies)
    docs = nlp.pipe((text for text, _ in bodies), batch_size=batch_size)
    for doc, (_, offset) in zip(docs, bodies):
        yield Analysis(entities_of(doc, label_map, offset=offset),
                       claim_finder.find_claims(doc, offset=offset))


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


# =============================================================================================
# Token helpers
# =============================================================================================

def _cap(token: Token) -> bool:
    return token.text[:1].isupper()


def _is_demonym(token: Token) -> bool:
    """C2: a nationality or religion word. The suffix alone is not enough ("Paris", "Tripoli",
    "Tunis" have the shape), so the tagger or the model must agree: adjective, plural or NORP."""
    if not _DEMONYM.match(token.text) or token.ent_type_ in {"GPE", "LOC", "FAC", "PERSON"}:
        return False
    if token.text.endswith("is") and not token.text.endswith("ris"):
        return token.tag_ in {"NNS", "NNPS"}  # "Iraqis", not "Tunis"
    return token.pos_ == "ADJ" or token.tag_ in {"NNS", "NNPS"} or token.ent_type_ == "NORP" \
        or token.text in _DEMONYM_WORDS


def _all_demonyms(tokens: Iterable[Token]) -> bool:
    return all(_is_demonym(t) or t.lower_ in _COMPASS for t in tokens if t.is_alpha)


def _is_acronym(token: Token) -> bool:
    text = token.text
    return bool(_ACRONYM.match(text)) and text.replace(".", "") not in _NOT_ACRONYMS \
        and not (_ROMAN.match(text) and text != "IS")


def _is_line_break(token: Token) -> bool:
    return token.is_space and bool(_LINE_BREAK.search(token.text))


def _lines(doc: Doc) -> Iterator[list[Token]]:
    """The tokens of each line of the text (line breaks left out)."""
    line: list[Token] = []
    for token in doc:
        if _is_line_break(token):
            if line:
                yield line
            line = []
        else:
            line.append(token)
    if line:
        yield line


def _line_start(token: Token) -> bool:
    """True when the token opens a line (or the document)."""
    i = token.i - 1
    while i >= 0 and token.doc[i].is_space and not _LINE_BREAK.search(token.doc[i].text):
        i -= 1
    return i < 0 or bool(_LINE_BREAK.search(token.doc[i].text_with_ws))


def _hedge_before(doc: Doc, start: int) -> int | None:
    """Start of the hedge words that end right before token `start`, or None."""
    for hedge in _HEDGES:
        begin = start - len(hedge)
        if begin >= 0 and all(doc[begin + i].lower_ == word for i, word in enumerate(hedge)):
            return begin
    return None


def _name_run_before(doc: Doc, end: int) -> int:
    """Start of the run of capitalised words ending at `end`, with hyphens and lower-case name
    particles inside it ("Hayat Tahrir al-Sham", "Jama'at Nusrat al-Islam wal-Muslimin")."""
    start = end
    while start > 0:
        token = doc[start - 1]
        inside = start < end
        if _cap(token) and (token.is_alpha or any(c in token.text for c in "_.'")) \
                and token.lower_ not in _LEADING_WORDS \
                and not (token.is_sent_start and token.pos_ != "PROPN"):
            start -= 1
        elif inside and token.text == "-" and not token.whitespace_ and start >= 2 \
                and not doc[start - 2].whitespace_:
            start -= 1
        elif inside and token.lower_ in _NAME_PARTICLES \
                and (doc[start].text == "-" or _cap(doc[start])):
            start -= 1
        else:
            break
    while start < end and (doc[start].text == "-" or doc[start].is_punct
                           or (doc[start].lower_ in _NAME_PARTICLES and start == end - 1)):
        start += 1
    return start


# =============================================================================================
# Component: figures (C5-C7)
# =============================================================================================

@Language.component("sourcemark_figure_rules")
def figure_rules(doc: Doc) -> Doc:
    """FIGURE spans under C5-C7; other entities pass through unchanged."""
    names, figures = [], []
    for ent in doc.ents:
        (figures if ent.label_ in _FIGURE_LABELS else names).append(ent)
    kept = []
    for ent in _merge_hedge_pieces(figures):
        ent = _figure_bounds(ent)
        if ent is not None and not _is_not_a_figure(ent):
            kept.append(ent)
    kept.extend(_vague_numbers(doc))
    kept.extend(_numbered_unit_names(doc))
    doc.ents = filter_spans(names + kept)
    return doc


def _merge_hedge_pieces(figures: list[Span]) -> list[Span]:
    # C5: "up to" + "5,000 barrels": spaCy sometimes cuts a hedge off as a CARDINAL of its own.
    merged: list[Span] = []
    for ent in sorted(figures, key=lambda e: e.start):
        if merged and merged[-1].end == ent.start and _hedge_before(ent.doc, ent.start) is not None:
            ent = Span(ent.doc, merged.pop().start, ent.end, label=ent.label_)
        merged.append(ent)
    return merged


def _figure_bounds(ent: Span) -> Span | None:
    doc = ent.doc
    start, end = ent.start, ent.end
    # C5: emphasisers stay outside ("just 100 kilometres", "only around 50", "a mere 20").
    while start < end - 1 and doc[start].lower_ in _EMPHASISERS and (
            doc[start].lower_ != "a" or doc[start + 1].lower_ in _EMPHASISERS):
        start += 1
    # C5: the hedge belongs to the figure ("about 50", "at least six", "between 200 and 300");
    # "between two armed groups" is not a range.
    if doc[start].lower_ == "between" and not any(t.lower_ == "and" for t in doc[start:end]):
        start += 1
    if not any(doc[i].lower_ in _HEDGE_WORDS for i in range(start, end)):
        hedge = _hedge_before(doc, start)
        if hedge is not None and (doc[hedge].lower_ != "between" or (
                end < len(doc) and doc[end].lower_ == "and")):
            start = hedge
    while end > start and (doc[end - 1].is_punct or doc[end - 1].is_space):
        end -= 1
    # C5: the unit belongs to the figure ("50 billion euros", "15 per cent").
    while end < len(doc) and (doc[end].lower_ in _UNITS or (
            doc[end].lower_ == "per" and end + 1 < len(doc) and doc[end + 1].lower_ == "cent")):
        end += 1
    if start >= end or not any(t.like_num or t.pos_ == "NUM" or t.lower_ in _VAGUE_NUMBERS
                               or t.lower_ in {"half", "third", "quarter", "dozen"}
                               or "fold" in t.lower_ for t in doc[start:end]):
        return None
    return Span(doc, start, end, label=ent.label_)


def _is_not_a_figure(ent: Span) -> bool:
    doc = ent.doc
    following = doc[ent.end] if ent.end < len(doc) else None
    after_hyphen = doc[ent.end + 1] if following is not None and following.text == "-" \
        and ent.end + 1 < len(doc) else None
    # C7: durations and ages ("24 hours", "11-hour", "a 34-year-old", "five years").
    for token in (ent[-1], following, after_hyphen):
        if token is not None and token.lower_ != "second" \
                and token.lower_.split("-")[0] in _DURATION_UNITS:
            return ent.label_ == "CARDINAL" or token is ent[-1]
    # C7: a year ("in 2004") is a date, not a count.
    if len(ent) == 1 and re.fullmatch(r"1[89]\d\d|20\d\d", ent.text) and ent.start > 0 \
            and doc[ent.start - 1].lower_ in _YEAR_PREPOSITIONS:
        return True
    # C7: a number in a name ("battalion 131", "Resolution 2254", "the 444 Brigade").
    if ent.start > 0 and doc[ent.start - 1].lower_ in _NUMBERED_NAMES and ent[0].like_num:
        return True
    if len(ent) == 1 and following is not None and _cap(following) \
            and _NUMBERED_NAMES.get(following.lower_):
        return True
    # "one" as a pronoun ("one of them", "no one") counts nothing.
    if ent.text.lower() == "one":
        before = doc[ent.start - 1].lower_ if ent.start > 0 else ""
        return ent[0].pos_ == "PRON" or before in {"no", "the", "every", "any", "this", "that"} \
            or (following is not None and following.lower_ in {"of", "another"})
    return False


def _vague_numbers(doc: Doc) -> list[Span]:
    # C6: "dozens", "hundreds", "thousands" count people or things without a digit, and
    # multiples measure something ("three-fold", "more than tenfold").
    spans = []
    for t in doc:
        if t.ent_type_:
            continue
        if (t.lower_ in _VAGUE_NUMBERS and (t.lower_ != "scores" or (
                t.i + 1 < len(doc) and doc[t.i + 1].lower_ == "of"))) or _FOLD.match(t.lower_):
            start = _hedge_before(doc, t.i)
            spans.append(Span(doc, t.i if start is None else start, t.i + 1, label="CARDINAL"))
    return spans


def _numbered_unit_names(doc: Doc) -> list[Span]:
    # C1/C7: "battalion 131", "the 444 Brigade" name a unit (GROUP); the number is not a FIGURE.
    spans = []
    for t in doc[:-1]:
        nxt = doc[t.i + 1]
        if _NUMBERED_NAMES.get(t.lower_) and nxt.text.isdigit():
            spans.append(Span(doc, t.i, t.i + 2, label=_NUMBERED_NAMES[t.lower_]))
        elif t.text.isdigit() and _cap(nxt) and _NUMBERED_NAMES.get(nxt.lower_) \
                and (t.i == 0 or doc[t.i - 1].lower_ == "the"):
            spans.append(Span(doc, t.i, t.i + 2, label=_NUMBERED_NAMES[nxt.lower_]))
    return spans


# =============================================================================================
# Component: names (ACTOR, GROUP, PLACE)
# =============================================================================================

@dataclass
class _Candidate:
    start: int
    end: int
    label: str
    weight: float  # how much this occurrence's own label counts in the document vote


# How much a label counts in the document vote. The model's PERSON is its fallback for any
# unknown capitalised word ("Ben X", hashtags), so it counts least; context cues count more.
_MODEL_WEIGHT = {"PERSON": 1.0}
_DEFAULT_MODEL_WEIGHT = 2.0
_GUESS = 0.5  # a label guessed from the shape of the name alone
_ACRONYM_WEIGHT = 1.0  # initials no model label covers: as sure as the model's PERSON fallback
_CUE = 3.0  # the words around one occurrence
_STRONG = 6.0  # a byline, a dateline


@Language.component("sourcemark_entity_rules")
def entity_rules(doc: Doc) -> Doc:
    """ACTOR/GROUP/PLACE under the guidelines; figures and dates pass through."""
    # Figures, dates and times hold their tokens. The model's other labels (PRODUCT, EVENT, ...)
    # hold them against the rules below but give way to a name recognised elsewhere in the
    # document; across a line break they are a headline running into the text, and dropped.
    hard = [ent for ent in doc.ents if ent.label_ in _FIGURE_LABELS | _HARD_LABELS]
    soft = [ent for ent in doc.ents if ent.label_ not in _FIGURE_LABELS | _HARD_LABELS
            and ent.label_ not in _NAME_CLASS and not any(_is_line_break(t) for t in ent)]
    candidates = [piece for ent in doc.ents if ent.label_ in _NAME_CLASS
                  for piece in _pieces(ent) if not _is_not_a_name(doc, piece)]
    candidates = _bylines(doc, candidates)
    taken = _token_mask(doc, candidates, hard + soft)
    for rule in _NEW_NAME_RULES:
        for c in rule(doc, candidates):
            if not any(taken[c.start:c.end]):
                taken[c.start:c.end] = [True] * (c.end - c.start)
                candidates.append(c)
    _extend_person_names(doc, candidates, taken)
    candidates = _resolve_in_document(doc, candidates, hard)
    names = [Span(doc, c.start, c.end, label=c.label) for c in candidates]
    doc.ents = filter_spans(names + hard + soft)  # on a tie in length the name wins
    return doc


def _token_mask(doc: Doc, candidates: list[_Candidate], spans: list[Span]) -> list[bool]:
    taken = [False] * len(doc)
    for item in [*candidates, *spans]:
        taken[item.start:item.end] = [True] * (item.end - item.start)
    return taken


# -- the model's names: boundaries and non-names (C1, C2, C4) -------------------------------------

def _pieces(ent: Span) -> list[_Candidate]:
    """C1: split an entity at line breaks, brackets and inner possessives, then trim each piece."""
    doc = ent.doc
    weight = _MODEL_WEIGHT.get(ent.label_, _DEFAULT_MODEL_WEIGHT)
    pieces, start = [], ent.start
    for i in range(ent.start, ent.end):
        if _is_line_break(doc[i]) or doc[i].text in {"(", ")"}:
            pieces.append((start, i, weight))
            start = i + 1
        elif _POSSESSIVE.fullmatch(doc[i].text) and i + 1 < ent.end:
            # "Libya’s Government of National Accord": the possessor is a name of its own,
            # its label unsure.
            pieces.append((start, i, _GUESS))
            start = i + 1
    pieces.append((start, ent.end, weight))
    out = []
    for begin, end, w in pieces:
        trimmed = _trim(doc, begin, end, ent.label_)
        if trimmed is not None:
            out.append(_Candidate(*trimmed, ent.label_, w))
    return out


_NOT_NAME_START_POS = {"VERB", "AUX", "ADV", "ADP", "PRON", "CCONJ", "SCONJ", "DET"}


def _trim(doc: Doc, start: int, end: int, label: str) -> tuple[int, int] | None:
    # C1: a leading article, '#', a title; a capitalised verb before the name ("Attacking X").
    while start < end and (doc[start].lower_ in _LEADING_WORDS or doc[start].text in {"#", "@"}
                           or doc[start].is_space or doc[start].is_punct
                           or (end - start > 1 and label == "PERSON"
                               and doc[start].lower_ in _TITLES)
                           or (end - start > 1 and doc[start].pos_ in _NOT_NAME_START_POS
                               and doc[start].tag_ != "NNP")):
        start += 1
    # C1: trailing punctuation, possessive, a generic head ("Islamic State group", "X city").
    while start < end and (doc[end - 1].is_punct or doc[end - 1].is_space
                           or doc[end - 1].text in {"#", "@"}
                           or _POSSESSIVE.fullmatch(doc[end - 1].text)
                           or (end - start > 1 and doc[end - 1].lower_ in _DROPPED_HEADS
                               and doc[end - 1].is_lower)):
        end -= 1
    if start >= end or all(t.lower_ in _TITLES for t in doc[start:end]):
        return None  # nothing left, or a title with no name ("Rear Admiral")
    return start, end


def _is_not_a_name(doc: Doc, c: _Candidate) -> bool:
    tokens = doc[c.start:c.end]
    words = [t for t in tokens if t.is_alpha]
    text = tokens.text.lower()
    return (
        # Lower-case words ("jihadist"); state bodies in lower case have a rule of their own.
        not any(_cap(t) or t.like_num for t in tokens)
        # C2: demonyms, alone or with a compass word ("Tunisian", "North African").
        or (bool(words) and _all_demonyms(words) and any(_is_demonym(t) for t in words))
        # C4: a demonym with a bare generic head ("Tunisian Authorities", "Libyan army").
        or (c.label in {"ORG", "NORP"} and len(words) > 1 and _is_demonym(words[0])
            and all(t.lower_ in _GENERIC_BODIES for t in words[1:]))
        # C4: a bare generic head, capitalised or not ("Army chief ...").
        or (c.label in {"ORG", "NORP"} and all(t.lower_ in _GENERIC_BODIES for t in words))
        # A compass word alone ("West sources", "South of X") is a direction.
        or all(t.lower_ in _COMPASS for t in tokens)
        # A portfolio inside a title: "Secretary of State", "Interior Minister X".
        or (text in _PORTFOLIOS and c.start >= 2 and doc[c.start - 1].lower_ == "of"
            and doc[c.start - 2].lower_ in _TITLES)
        or (text in _PORTFOLIOS and c.end < len(doc)
            and doc[c.end].lower_ in {"minister", "ministers", "secretary"})
    )


def _bylines(doc: Doc, candidates: list[_Candidate]) -> list[_Candidate]:
    # ACTOR: "By A B" or "By A B and C D" on a line of its own names the authors (bylines count,
    # GUIDELINES); it replaces whatever the model made of the same words.
    for token in doc[:-1]:
        if token.lower_ != "by" or not _line_start(token):
            continue
        names, start = [], token.i + 1
        while True:
            end = start
            while end < len(doc) and (
                    (_cap(doc[end]) and doc[end].is_alpha) or doc[end].text == "-"):
                end += 1
            if not 2 <= end - start <= 4:
                names = []
                break
            names.append((start, end))
            if end < len(doc) and doc[end].lower_ in {"and", ","}:
                start = end + 1
                continue
            break
        if not names:
            continue
        end = names[-1][1]
        if end >= len(doc) or _LINE_BREAK.search(doc[end - 1].text_with_ws) \
                or _is_line_break(doc[end]) or doc[end].text in {",", "|"}:
            candidates = [c for c in candidates if c.end <= token.i + 1 or c.start >= end]
            candidates.extend(_Candidate(a, b, "PERSON", _STRONG) for a, b in names)
    return candidates


# -- names the model missed -----------------------------------------------------------------------

def _dateline_names(doc: Doc, candidates: list[_Candidate]) -> list[_Candidate]:
    # PLACE (C3): a wire dateline names a place (the vote gets a strong cue for it as well).
    return [_Candidate(start, end, "GPE", _GUESS) for start, end in _datelines(doc)]


def _datelines(doc: Doc, candidates: list[_Candidate] | None = None) -> list[tuple[int, int]]:
    """Capitals opening a line before a comma, a slash, a bracket or a dash: "BEIRUT (Reuters) -",
    "SANAA, Yemen (AP) —", "GAZA/CAIRO"."""
    out = []
    for token in doc:
        if not (token.is_upper and token.is_alpha and len(token) > 2 and _line_start(token)):
            continue
        end = token.i + 1
        while end < len(doc) and doc[end].is_upper and doc[end].is_alpha:
            end += 1
        if end < len(doc) and doc[end].text in {",", "(", "/"} | _DASHES and end - token.i <= 3:
            out.append((token.i, end))
            if doc[end].text == "/" and end + 1 < len(doc) and doc[end + 1].is_upper:
                out.append((end + 1, end + 2))
    return out


_GROUP_HEADS = (_DROPPED_HEADS - {"city", "region", "province", "town"}) | _COMBATANTS \
    | {"militias", "newspaper"}


def _headed_names(doc: Doc, candidates: list[_Candidate]) -> list[_Candidate]:
    # C1: "the Maitiqa base" keeps its head (PLACE), "Misrata brigades" too (GROUP); "the Islamic
    # State group" drops it; "Islamic State militants": a name before its fighters is a group.
    by_end = {c.end: c for c in candidates}
    out = []
    for token in doc[1:]:
        if not token.is_lower:
            continue
        c = by_end.get(token.i)
        if token.lower_ in _KEPT_HEADS:
            head = _KEPT_HEADS[token.lower_]
            # Extend the model's fallback PERSON ("Maitiqa" base) but not a known place ("the US
            # base"); brigades are named after their town.
            if c is not None and (c.label in {"PERSON", "FAC"}
                                  or token.lower_ in {"brigades", "battalions"}
                                  or (head == "ORG" and _NAME_CLASS[c.label] == "ORG")):
                c.end, c.label = token.i + 1, head
            elif c is None:
                start = _name_run_before(doc, token.i)
                if start < token.i and not _all_demonyms(doc[start:token.i]):
                    out.append(_Candidate(start, token.i + 1, head, _GUESS))
        elif token.lower_ in _GROUP_HEADS:
            start = _name_run_before(doc, token.i)
            if start >= token.i or _all_demonyms(doc[start:token.i]):
                continue
            if c is None:
                out.append(_Candidate(start, token.i, "ORG", _GUESS))
            elif start < c.start:  # the model found "State" of "the Islamic State group"
                c.start = start
    return out


def _hashtags(doc: Doc, candidates: list[_Candidate]) -> list[_Candidate]:
    # "#Libya", "#Al_Jufrah": the name is the word without '#' (C1). The model calls hashtags
    # PERSON or MONEY, so guess from shape: initials and CamelCase handles are groups, the rest
    # places; the document vote has the last word.
    by_start = {c.start: c for c in candidates}
    out = []
    for mark in doc[:-1]:
        token = doc[mark.i + 1]
        if mark.text not in {"#", "@"} or mark.whitespace_ or not _cap(token):
            continue
        handle = _is_acronym(token) or bool(_CAMEL.search(token.text))
        guess = "ORG" if handle else "GPE"
        c = by_start.get(token.i)
        if c is not None and c.end == token.i + 1 and c.label == "PERSON":
            c.label = guess
        elif c is None and (handle or "_" in token.text):
            out.append(_Candidate(token.i, token.i + 1, guess, _GUESS))
    return out


def _org_word_names(doc: Doc, candidates: list[_Candidate]) -> list[_Candidate]:
    # GROUP: capitalised words ending in an organisation word ("UK Defence Forum").
    out = []
    for token in doc:
        if token.lower_ in _ORG_WORDS and _cap(token) and not token.is_upper:
            start = _name_run_before(doc, token.i + 1)
            if token.i - start >= 1 and not _all_demonyms(doc[start:token.i]):
                out.append(_Candidate(start, token.i + 1, "ORG", _GUESS))
    return out


def _state_bodies(doc: Doc, candidates: list[_Candidate]) -> list[_Candidate]:
    # C4: a state body under its conventional title counts in lower case too: "national guard",
    # "interior ministry", "ministry of defence", "government of national accord".
    out = []
    for token in doc[:-1]:
        nxt = doc[token.i + 1]
        if token.is_lower == nxt.is_lower and (
                (token.lower_ in _GUARDS and nxt.lower_ in {"guard", "guards"})
                or (token.lower_ in _PORTFOLIOS - {"state"} and nxt.lower_ == "ministry")):
            out.append(_Candidate(token.i, token.i + 2, "ORG", _DEFAULT_MODEL_WEIGHT))
        elif nxt.lower_ == "of" and token.i + 2 < len(doc):
            rest = doc[token.i + 2:token.i + 4]
            if token.lower_ == "ministry" and rest[0].lower_ in _PORTFOLIOS:
                out.append(_Candidate(token.i, token.i + 3, "ORG", _DEFAULT_MODEL_WEIGHT))
            elif token.lower_ == "government" and len(rest) == 2 and rest[0].lower_ == "national" \
                    and rest[1].lower_ in _UNITY_GOVERNMENTS:
                out.append(_Candidate(token.i, token.i + 4, "ORG", _DEFAULT_MODEL_WEIGHT))
    return out


def _hyphen_names(doc: Doc, candidates: list[_Candidate]) -> list[_Candidate]:
    # C2: names inside hyphenated modifiers: "IS-held", "Tunis-based", "anti-IS", "Libya-Tunisian"
    # (where the model left them out).
    out = []
    for hyphen in doc[1:-1]:
        if hyphen.text != "-" or hyphen.whitespace_ or doc[hyphen.i - 1].whitespace_:
            continue
        left, right = doc[hyphen.i - 1], doc[hyphen.i + 1]
        if left.lower_ in {"anti", "pro", "post", "pre", "non"} and _cap(right) \
                and not _is_demonym(right):
            end = right.i + 1
            while end < len(doc) and _cap(doc[end]) and doc[end].is_alpha \
                    and doc[end - 1].whitespace_:
                end += 1
            out.append(_Candidate(right.i, end, "ORG" if _is_acronym(right) else "GPE", _GUESS))
        elif _cap(left) and (left.is_alpha or _ACRONYM.match(left.text)) \
                and not _is_demonym(left) and left.lower_ not in _COMPASS \
                and ((right.is_lower and right.is_alpha) or _is_demonym(right)) \
                and (not left.is_sent_start or _is_acronym(left) or left.pos_ == "PROPN"):
            start = _name_run_before(doc, left.i + 1)
            out.append(_Candidate(start, left.i + 1, "ORG" if _is_acronym(left) else "GPE", _GUESS))
    return out


def _acronyms(doc: Doc, candidates: list[_Candidate]) -> list[_Candidate]:
    # GROUP: an all-capital word in mixed-case text is an organisation's initials ("IS", "GNA"),
    # unless the model calls the same letters a country elsewhere (the document vote decides).
    out = []
    for line in _lines(doc):
        words = [t for t in line if t.is_alpha and len(t) > 1]
        if len(words) > 3 and sum(t.is_upper for t in words) > len(words) / 2:
            continue  # an all-capital line, where capitals say nothing about names
        out.extend(_Candidate(t.i, t.i + 1, "ORG", _ACRONYM_WEIGHT) for t in line if _is_acronym(t))
    return out


_NEW_NAME_RULES: tuple[Callable[[Doc, list[_Candidate]], list[_Candidate]], ...] = (
    _dateline_names, _headed_names, _hashtags, _org_word_names, _state_bodies, _hyphen_names,
    _acronyms,
)


def _extend_person_names(doc: Doc, candidates: list[_Candidate], taken: list[bool]) -> None:
    # ACTOR: a name the model cut short ("Beji Caid" + "Essebsi", "Abu Musaab\xa0 Zarkaoui").
    for c in candidates:
        if c.label != "PERSON":
            continue
        end = c.end
        while end < len(doc):
            token = doc[end]
            if token.is_space and not _LINE_BREAK.search(token.text) and end + 1 < len(doc):
                nxt = doc[end + 1]
                if nxt.pos_ == "PROPN" and _cap(nxt) and nxt.is_alpha and not taken[end + 1]:
                    end += 2
                    continue
            if token.pos_ == "PROPN" and token.is_title and token.is_alpha and not taken[end] \
                    and doc[end - 1].whitespace_:
                end += 1
                continue
            break
        taken[c.end:end] = [True] * (end - c.end)
        c.end = end


# -- context cues: the words around one occurrence of a name --------------------------------------

@dataclass
class _Context:
    doc: Doc
    c: _Candidate
    prev: Token | None  # the word before the name (skipping '#' and "in central ...")
    prev2: Token | None
    nxt: Token | None
    nxt2: Token | None
    datelines: set[tuple[int, int]]

    @property
    def first(self) -> Token:
        return self.doc[self.c.start]

    @property
    def last(self) -> Token:
        return self.doc[self.c.end - 1]

    @property
    def modifier(self) -> bool:
        """The name modifies the next noun ("in X raid"): a preposition before is not about it."""
        return self.nxt is not None and self.nxt.pos_ in {"NOUN", "PROPN"} \
            and self.nxt.lower_ not in _PLACE_NOUNS

    @property
    def possessive(self) -> bool:
        return self.nxt is not None and bool(_POSSESSIVE.fullmatch(self.nxt.text))


def _context(doc: Doc, c: _Candidate, datelines: set[tuple[int, int]]) -> _Context:
    i = c.start - 1
    if i >= 0 and doc[i].text in {"#", "@"}:
        i -= 1
    if i >= 1 and doc[i].lower_ in _REGION_ADJECTIVES and doc[i - 1].lower_ in _PLACE_PREPOSITIONS:
        i -= 1
    return _Context(doc, c, doc[i] if i >= 0 else None, doc[i - 1] if i >= 1 else None,
                    doc[c.end] if c.end < len(doc) else None,
                    doc[c.end + 1] if c.end + 1 < len(doc) else None, datelines)


def _cue_place_preposition(x: _Context) -> str | None:
    # PLACE: "in X", "near X", "in central X" (not "in X's words", "in X raid").
    if x.prev is not None and x.prev.lower_ in _PLACE_PREPOSITIONS and not x.modifier \
            and not x.possessive:
        return "GPE"
    return None


def _cue_place_noun(x: _Context) -> str | None:
    # PLACE: "the capital X", "the town of X", "south of X", "the villages of X".
    if x.prev is not None and x.prev.lower_ in {"capital", "city", "town", "village", "port"}:
        return "GPE"
    if x.prev is not None and x.prev.lower_ == "of" and x.prev2 is not None and (
            x.prev2.lower_ in _PLACE_NOUNS | _COMPASS or x.prev2.lower_.endswith(("east", "west"))):
        return "GPE"
    return None


def _cue_place_after(x: _Context) -> str | None:
    # PLACE: "X-based", "X, where ...", a facility head kept in the span ("X base").
    if x.nxt is not None and x.nxt.text == "-" and x.nxt2 is not None and x.nxt2.lower_ == "based":
        return "GPE"
    if x.nxt is not None and (x.nxt.lower_ == "where" or (
            x.nxt.text == "," and x.nxt2 is not None and x.nxt2.lower_ == "where")):
        return "GPE"
    if x.c.label == "FAC" or _KEPT_HEADS.get(x.last.lower_) == "FAC":
        return "GPE"
    return None


def _cue_apposition(x: _Context) -> str | None:
    # "X, a coastal town" (PLACE), "X, a military specialist" (ACTOR), "X, the dominant rebel
    # group" (GROUP). With a parse, only a true apposition counts ("in X, an official said" not).
    if x.nxt is None or x.nxt.text != "," or x.nxt2 is None \
            or x.nxt2.lower_ not in {"a", "an", "the"}:
        return None
    doc, c = x.doc, x.c
    window = list(doc[c.end + 2:min(c.end + 6, len(doc))])
    if doc.has_annotation("DEP"):
        window = [t for t in window if t.dep_ == "appos" and c.start <= t.head.i < c.end]
    for token in window:
        if token.lower_ in _PLACE_NOUNS - {"heart", "streets", "center", "centre"}:
            return "GPE"
        if token.lower_ in _ROLES:
            return "PERSON"
        if token.lower_ in _ORG_NOUNS and token.is_lower:
            return "ORG"
        if token.is_punct:
            break
    return None


def _cue_dateline(x: _Context) -> tuple[str, float] | None:
    # PLACE: a dateline names a place by convention; the agency in its brackets is a group.
    if (x.c.start, x.c.end) in x.datelines:
        return "GPE", _STRONG
    if _wire_credit(x.doc, x.c.start):
        return "ORG", _CUE
    return None


def _wire_credit(doc: Doc, start: int) -> bool:
    """True for the agency in a dateline's brackets: "BEIRUT (Reuters) -", "ADEN, Yemen (AP) —"."""
    if start < 2 or doc[start - 1].text != "(":
        return False
    i = start - 2
    while i >= 0 and not _LINE_BREAK.search(doc[i].text_with_ws) and start - i <= 6:
        if doc[i].is_upper and doc[i].is_alpha and len(doc[i]) > 2 and _line_start(doc[i]):
            return True
        i -= 1
    return False


def _cue_person(x: _Context) -> str | None:
    # ACTOR: a title or a role word right before the name ("President X", "researcher X",
    # "his counterpart, X").
    prev = x.prev2 if x.prev is not None and x.prev.text == "," else x.prev
    if prev is not None and (prev.lower_ in _ROLES or (prev.lower_ in _TITLES and _cap(prev))) \
            and not _is_acronym(x.first):
        return "PERSON"
    return None


def _cue_group(x: _Context) -> str | None:
    # GROUP: "X newspaper", "X militants", "X brigades", "X Forum"; initials or a CamelCase
    # handle that the model took for a person.
    if x.nxt is not None and x.nxt.is_lower and x.nxt.lower_ in _ORG_NOUNS | _COMBATANTS:
        return "ORG"
    if _KEPT_HEADS.get(x.last.lower_) == "ORG" or (
            x.c.end - x.c.start > 1 and x.last.lower_ in _ORG_WORDS and _cap(x.last)):
        return "ORG"
    if x.c.end - x.c.start == 1 and x.c.label == "PERSON" and (
            _is_acronym(x.first) or _CAMEL.search(x.first.text)):
        return "ORG"
    return None


def _cue_article_before_person(x: _Context) -> str | None:
    # A person's name takes no article: "the Houthis" is a group, "the Sahel" a place (but "the
    # Trump administration", "the Obama-era": there the name modifies what follows).
    if x.c.label == "PERSON" and x.c.start >= 1 and x.doc[x.c.start - 1].lower_ == "the" \
            and not x.modifier and not x.possessive and (x.nxt is None or x.nxt.text != "-"):
        return "ORG" if x.last.text.endswith("s") else "GPE"
    return None


_CUE_RULES: tuple[Callable[[_Context], str | tuple[str, float] | None], ...] = (
    _cue_place_preposition, _cue_place_noun, _cue_place_after, _cue_apposition, _cue_dateline,
    _cue_person, _cue_group, _cue_article_before_person,
)


def _cues(doc: Doc, c: _Candidate, datelines: set[tuple[int, int]]) -> list[tuple[str, float]]:
    """Votes from the words around one occurrence of a name."""
    x = _context(doc, c, datelines)
    votes = []
    for rule in _CUE_RULES:
        vote = rule(x)
        if vote is not None:
            votes.append(vote if isinstance(vote, tuple) else (vote, _CUE))
    return votes


# -- one label per name in a document -----------------------------------------------------------

def _key(doc: Doc, start: int, end: int) -> str:
    return " ".join(t.text for t in doc[start:end] if not t.is_space).replace("_", " ").casefold()


def _resolve_in_document(doc: Doc, candidates: list[_Candidate],
                         hard: list[Span]) -> list[_Candidate]:
    """One label per name in one article: every occurrence votes with its own label and the cues
    around it; a name and its initials vote together; a surname follows the full name; then
    every other occurrence of a recognised name is tagged too."""
    keys = [_key(doc, c.start, c.end) for c in candidates]
    aliases = _aliases(doc, candidates, keys)
    datelines = set(_datelines(doc, candidates))
    cues = [_cues(doc, c, datelines) for c in candidates]
    headline = _headline_lines(doc)
    if all(c.start in headline for c in candidates):
        headline = set()  # nothing but a headline: it is all there is to go on
    votes: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    cue_votes: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for c, key, found in zip(candidates, keys, cues):
        if c.start in headline and c.weight < _STRONG:
            continue  # a title-case headline: the model's guesses there say little
        weight = c.weight
        if c.label == "NORP" and not any(_is_demonym(t) for t in doc[c.start:c.end]):
            weight = min(weight, _MODEL_WEIGHT["PERSON"])  # "Tunis" as NORP: the model is unsure
        votes[key][_NAME_CLASS.get(c.label, c.label)] += weight
        for cls, w in found:
            cue_votes[key][cls] += w

    group_of = {key: key for key in votes}
    for a, b in aliases:
        root_a, root_b = _root(group_of, a), _root(group_of, b)
        if root_a != root_b:
            group_of[root_b] = root_a
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for key in votes:
        for source in (votes[key], cue_votes[key]):
            for cls, w in source.items():
                totals[_root(group_of, key)][cls] += w
    # On a tie the model's fallback (PERSON) loses.
    decided = {key: max(totals[_root(group_of, key)].items(),
                         key=lambda kv: (kv[1], kv[0] != "PERSON"))[0]
               for key in votes}
    _surnames_follow_full_names(decided, cue_votes)

    resolved = []
    for c, key in zip(candidates, keys):
        if key in decided:  # else: only in a headline, and nowhere in the text
            if _NAME_CLASS.get(c.label, c.label) != decided[key]:
                c.label = decided[key]
            resolved.append(c)
    resolved.extend(_other_occurrences(doc, decided, resolved, hard))
    return resolved


def _root(group_of: dict[str, str], key: str) -> str:
    while group_of.setdefault(key, key) != key:
        key = group_of[key]
    return key


def _aliases(doc: Doc, candidates: list[_Candidate], keys: list[str]) -> list[tuple[str, str]]:
    """Two names for one thing get one label: "Government of National Accord (GNA)" when the
    letters agree, and "X, known as Y". Adds the long form of initials when the model missed it
    or cut it short ("Jama'at Nusrat al-Islam wal-Muslimin (JNIM)")."""
    by_start = {c.start: key for c, key in zip(candidates, keys)}
    by_end = {c.end: (c, key) for c, key in zip(candidates, keys)}
    pairs = []
    for c, key in zip(candidates, keys):  # "X, known as Y", "X, also known as Y"
        i = c.end + (c.end < len(doc) and doc[c.end].text == ",")
        i += i < len(doc) and doc[i].lower_ == "also"
        if i + 2 < len(doc) and doc[i].lower_ == "known" and doc[i + 1].lower_ == "as" \
                and by_start.get(i + 2) not in {None, key}:
            pairs.append((key, by_start[i + 2]))
    taken = {i for c in candidates for i in range(c.start, c.end)}
    for c, key in list(zip(candidates, keys)):
        if c.end - c.start != 1 or not _is_acronym(doc[c.start]) or c.start < 2 \
                or c.end >= len(doc) or doc[c.start - 1].text != "(" or doc[c.end].text != ")" \
                or _wire_credit(doc, c.start):
            continue
        before = c.start - 1
        if before in by_end:
            long_form, long_key = by_end[before]
            if _initials_agree(doc[c.start].text, doc[long_form.start:before]):
                pairs.append((long_key, key))
            continue
        start = _name_run_before(doc, before)
        if start >= before or not _initials_agree(doc[c.start].text, doc[start:before]):
            continue
        inside = [n for n, o in enumerate(candidates) if start <= o.start and o.end <= before]
        covered = sum(candidates[n].end - candidates[n].start for n in inside)
        if covered != sum(i in taken for i in range(start, before)):
            continue  # a name crosses the edge of the long form: leave it
        label = candidates[inside[0]].label if inside else c.label
        weight = max([candidates[n].weight for n in inside], default=_GUESS)
        for n in reversed(inside):
            del candidates[n], keys[n]
        candidates.append(_Candidate(start, before, label, weight))
        keys.append(_key(doc, start, before))
        pairs.append((keys[-1], key))
    return pairs


def _initials_agree(initials: str, name: Span) -> bool:
    """"GNA" and "Government of National Accord": the first letter opens one of the name's
    capitalised words ("Mission in Libya (UNSMIL)" and "Yemen (AP)" do not agree)."""
    letters = [t.text[0].upper() for t in name if t.text[:1].isalpha() and _cap(t)]
    return bool(letters) and initials.replace(".", "")[0] in letters


def _headline_lines(doc: Doc) -> set[int]:
    """Token indices of title-case lines ("Authorities Worry Town Escapers Would Turn ..."), where
    every word is capitalised and the model's guesses say little."""
    out: set[int] = set()
    for line in _lines(doc):
        words = [t for t in line if t.is_alpha and not t.is_stop]
        if len(words) >= 4 and sum(_cap(t) for t in words) >= 0.8 * len(words) \
                and not (line[-1].text in {".", "?", "!"} and len(words) > 12):
            out.update(t.i for t in line)
    return out


def _surnames_follow_full_names(decided: dict[str, str],
                                cue_votes: dict[str, dict[str, float]]) -> None:
    # ACTOR: "Essid" after "Habib Essid", "Le Drian" after "Jean-Yves Le Drian", also where the
    # model tagged the surname as something else or not at all.
    people = [key.split() for key, cls in decided.items() if cls == "PERSON" and " " in key]
    for words in people:
        for n in range(1, len(words)):
            tail = " ".join(words[n:])
            if not _SURNAME.match(words[n]) or len(tail) < 3:
                continue
            if tail not in decided:
                decided[tail] = "PERSON"
            elif decided[tail] != "PERSON" \
                    and cue_votes[tail].get(decided[tail], 0) <= cue_votes[tail].get("PERSON", 0):
                decided[tail] = "PERSON"


def _other_occurrences(doc: Doc, decided: dict[str, str], candidates: list[_Candidate],
                       hard: list[Span]) -> list[_Candidate]:
    # Once a name is recognised, its other occurrences are the same name (headlines included).
    taken = _token_mask(doc, candidates, hard)
    by_first: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for key in decided:
        by_first[key.split()[0]].append((len(key.split()), key))
    for options in by_first.values():
        options.sort(reverse=True)  # longest first
    words = [(t.i, t.text.replace("_", " ").casefold()) for t in doc if not t.is_space]
    out = []
    for n, (i, text) in enumerate(words):
        if taken[i] or text not in by_first or not _cap(doc[i]):
            continue
        if doc[i].is_sent_start and doc[i].is_stop:
            continue  # "Will", "May" opening a sentence
        for length, key in by_first[text]:
            chunk = words[n:n + length]
            if len(chunk) == length and " ".join(w for _, w in chunk) == key:
                end = chunk[-1][0] + 1
                if not any(taken[i:end]):
                    out.append(_Candidate(i, end, decided[key], _GUESS))
                    taken[i:end] = [True] * (end - i)
                break
    return out
