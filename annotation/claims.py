"""Rule-based claim finder over a parsed spaCy Doc (GUIDELINES.md, "Claims", K1-K5).

spaCy only: imports nothing from Django. The Doc must come from the project pipeline
(`annotation.nlp.load`), so that its FIGURE-like entities already follow C5-C7.

Units are sentences cut again at line breaks (a headline never joins the first sentence) and
after a dateline dash. Rules, one unit at a time:

    headline          a line without end punctuation: "Source: content" (cue ":") and
                      "Source Says/Warns/Fear content" read from the words, not the parse (K3)
    reported speech   a reporting verb with its subject (speaker) and its clausal complement
                      (the claim, without the frame: K2), one claim per "that" clause (K1); a
                      frame inserted mid-sentence ("..., the army said, ...") gives the whole
                      sentence, a frame at the end everything before it; an article-voice clause
                      with a figure before "... and warned that" is a claim of its own
    object cues       "accused X of Y", "blamed X", "described X as Y", "reported a fall of ...":
                      the clause or the sentence (K2)
    according to      "according to X": X (or the name in apposition to it) is the speaker
    passive           "are said to", "are believed to", "It was reported that", "reportedly":
                      speaker None (unless "by X"), the whole sentence or the complement
    direct quotes     a quoted sentence with no verb of its own takes the speaker and cue of the
                      frame of its own quotation, else of the sentence just before the quotation
                      in the paragraph, else just after it (K1, K5)
    calls             exhortations, promises and calls are dropped (K1): "must", imperatives,
                      "we will/shall/should", "we have to/need", "there will be", a reported
                      "it would ...", "was ready to ..."
    article voice     a sentence with a FIGURE-like number (not a date or duration) and no
                      attribution: speaker None, cue None (K3)

Speakers (K4): the name when the subject is, contains or is in apposition to one; "he"/"she"
resolve to the last person named; "it" to the organisation that last spoke; a definite role
phrase ("the minister", "the country's president") to the person the text gives that role; an
organisation noun ("the bank", "the institute") to the name holding it or titled by it; a
document ("the report", "a study by X", "data from X") to its author. A resolved speaker is given
at the mention of its name nearest the claim. Otherwise the subject phrase without a leading
article.
Every word list here is a closed class; no name from any article appears in this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spacy.tokens import Doc, Span, Token



def _ents(doc: Doc) -> tuple[Span, ...]:
    """doc.ents, built once per document: spaCy rebuilds it from every token on each access,
    and the rules ask for it (or a span's share of it) hundreds of times an article."""
    return _once(doc, "sourcemark_ents", lambda: tuple(doc.ents))


def _text(doc: Doc) -> str:
    """doc.text, joined once per document (spaCy joins every token's text on each access)."""
    return _once(doc, "sourcemark_text", lambda: doc.text)


def _once(doc: Doc, key: str, build):
    if key not in doc.user_data:
        doc.user_data[key] = build()
    return doc.user_data[key]


def _ents_in(span: Span) -> list[Span]:
    return [e for e in _ents(span.doc) if span.start <= e.start and e.end <= span.end]

@dataclass(frozen=True)
class FoundClaim:
    start: int
    end: int
    speaker: str | None
    speaker_start: int | None
    speaker_end: int | None
    cue: str | None
    direct: bool


# =============================================================================================
# Closed word classes
# =============================================================================================

# Lemmas of verbs that attribute content to a source.
_REPORTING_LEMMAS = {
    "say", "tell", "add", "warn", "state", "confirm", "reveal", "claim", "report", "believe",
    "estimate", "denounce", "blame", "describe", "announce", "declare", "insist", "explain",
    "argue", "note", "assert", "indicate", "highlight", "stress", "acknowledge", "admit",
    "allege", "affirm", "maintain", "suggest", "write", "deny", "predict", "caution",
    "emphasise", "emphasize", "point", "consider", "think", "contend", "observe", "remark",
    "disclose", "detail", "tweet", "reiterate", "underline", "testify", "recount", "fear",
    "worry", "conclude", "find", "show", "put", "accuse", "rule", "concede", "complain",
    "recall", "reckon", "forecast", "project", "calculate", "speculate", "hold", "counter",
    "reply", "respond", "inform", "mention", "concur", "contend", "lament", "boast", "doubt",
}
# Of those, the ones that also mark a passive/impersonal attribution ("are said to").
_PASSIVE_LEMMAS = {"say", "believe", "report", "think", "estimate", "allege", "know", "rumour",
                   "rumor", "understand", "fear", "claim", "suspect", "consider"}
# Verbs that only count with a clausal complement (too common otherwise).
_NEED_CLAUSE = {"find", "show", "put", "point", "consider", "think", "fear", "worry", "write",
                "rule", "hold", "project", "calculate", "counter", "reply", "respond", "inform",
                "mention", "recall", "reckon", "forecast", "doubt"}
# Verbs of saying whose content is their object ("accused X of Y", "blamed X", "described X as
# Y"): the claim is the clause or the sentence, the frame is not separable (K2).
_OBJECT_CUES = {"accuse", "blame", "describe", "denounce", "deny", "criticise", "criticize",
                "report", "estimate"}
# Adverbs that attribute a statement to unnamed others ("apparently" only hedges: not a cue).
_ADVERB_CUES = {"reportedly", "allegedly", "purportedly", "supposedly"}
# Nouns for a person's office or role ("the minister", "the country's president", K4).
_PERSON_ROLES = {
    "minister", "president", "governor", "spokesman", "spokeswoman", "spokesperson",
    "secretary", "chairman", "chairwoman", "chair", "chairperson", "director", "chief", "head",
    "mayor", "ambassador", "envoy", "prosecutor", "judge", "justice", "commander", "general",
    "colonel", "leader", "premier", "chancellor", "executive", "negotiator", "official",
    "officer", "king", "queen", "prince", "senator", "governor", "deputy", "lawmaker",
    "economist", "analyst", "researcher", "scientist", "expert", "doctor", "lawyer", "attorney",
    "captain", "coach", "founder", "owner", "manager", "editor", "correspondent", "commissioner",
}
# Nouns for an organisation ("the bank", "the agency", "the institute"): resolved to the name
# that the text gives an organisation with that head (K4).
_ORG_NOUNS = {
    "bank", "institute", "centre", "center", "association", "agency", "company", "firm",
    "group", "union", "council", "commission", "ministry", "mission", "observatory",
    "organisation", "organization", "court", "tribunal", "party", "charity", "newspaper",
    "paper", "daily", "broadcaster", "channel", "network", "office", "department", "authority",
    "body", "committee", "fund", "alliance", "federation", "foundation", "university",
    "carmaker", "maker", "airline", "insurer", "lender", "regulator", "watchdog", "coalition",
    "movement", "front", "army", "militia", "government", "cabinet", "parliament", "assembly",
    "agency", "bureau", "service", "outlet", "magazine", "website", "station", "corporation",
}
# Nouns for a document ("the report", "the statement"): its author speaks (K4).
_DOCUMENT_NOUNS = {
    "report", "statement", "study", "survey", "bulletin", "analysis", "assessment", "review",
    "document", "communique", "communiqué", "release", "paper", "letter", "memo", "poll",
    "audit", "data", "figures", "estimate", "estimates", "findings", "research", "ruling",
    "verdict", "judgment", "judgement", "decision", "filing", "indictment", "article",
}
# Headline verbs of saying ("X Says ...", "X Warn ...", "X Fear ..."): the ones that do not
# also name an act ("Declares Emergency", "Reveals Plan", "Confirms Deal").
_HEADLINE_VERBS = {"say", "warn", "claim", "fear", "worry", "insist", "believe", "predict",
                   "admit", "argue", "allege", "think", "deny", "doubt", "suspect"}
_DEFINITE = {"the", "this", "that", "its", "their", "his", "her"}
# Words that end a headline speaker going leftwards ("Rebels Seize Town as Army Says ...").
_HEADLINE_STOPS = {"as", "and", "while", "after", "but", "when", "since", "because", "with",
                   "amid", "despite", "though", "although", "if", "before", "until", "where"}
# Verbs of calling on someone ("and called on soldiers to ..."): their clause is not a claim.
_CALL_VERBS = {"call", "urge", "appeal", "vow", "promise", "pledge", "demand", "ask", "order",
               "invite", "implore", "beg"}
_COMMITMENT_ADJ = {"ready", "willing", "determined", "prepared", "committed", "eager"}
_FIRST_SECOND = {"we", "i", "you", "us"}
_SUBJECT_PRONOUNS = {"it", "he", "she", "they", "we", "i"}
_PRONOUNS = {"he", "she", "him", "her"}
_RELATIVES = {"who", "which", "that"}
_ARTICLES = {"the", "a", "an"}
_QUOTE_CHARS = "\"'“”‘’«»„‟‹›"
_FIGURE_LABELS = {"CARDINAL", "QUANTITY", "PERCENT", "MONEY"}
_NAME_LABELS = {"PERSON", "ORG", "GPE", "NORP", "LOC", "FAC"}
_END_PUNCT = ".,;:!?…-–— \t\n\r\u00a0"

# Quote regions: “…”, «…», "…", and ‘…’ where the single marks are not apostrophes.
_QUOTE_RE = re.compile(r"“[^”]*”|«[^»]*»|\"[^\"\n]*\"|(?<![\w])‘[^’\n]*’(?![\w])")


# =============================================================================================
# Public API
# =============================================================================================

def find_claims(doc: Doc, *, offset: int = 0) -> list[FoundClaim]:
    """Claims in a parsed document, in text order; offsets are char offsets in doc.text + offset."""
    quotes = [(m.start(), m.end()) for m in _QUOTE_RE.finditer(_text(doc))]
    ctx = _Context(doc)
    units, paragraph = _units(doc)
    per_unit: list[list[_Claim]] = []
    for i, unit in enumerate(units):
        ctx.unit = i
        claims = _headline(unit, ctx) if _is_headline(unit) else []
        per_unit.append(claims or _attributed(unit, ctx))
    for i, unit in enumerate(units):
        if per_unit[i]:
            continue
        quoted = _quoted_part(unit, quotes)
        if quoted is not None:
            source = _governing(per_unit, units, paragraph, i, quoted)
            if source is not None:
                span = _strip(_text(doc), *quoted)
                if span is not None and not _is_call(_char_span(doc, *span)):
                    per_unit[i] = [_Claim(span[0], span[1], source.speaker, source.cue)]
                continue
        if _has_figure(unit) or (_is_headline(unit) and _has_digits(unit)):
            span = _strip(_text(doc), unit.start_char, unit.end_char)
            if span is not None:
                per_unit[i] = [_Claim(span[0], span[1], None, None)]
    out = []
    for claims in per_unit:
        for c in claims:
            sp = _nearest_mention(doc, c) if c.speaker is not None else None
            out.append(FoundClaim(
                c.start + offset, c.end + offset,
                sp.text if sp else None,
                sp.start + offset if sp else None,
                sp.end + offset if sp else None,
                c.cue,
                any(qs <= c.start and c.end <= qe for qs, qe in quotes)))
    return out


def score_claims(gold_claims: list[dict], found: list[FoundClaim]) -> dict:
    """Precision/recall/F1 on overlapping spans (greedy best overlap, one-to-one) and speaker
    accuracy on the matched pairs. Gold claims are dicts with start, end and speaker."""
    pairs = []
    for g, gold in enumerate(gold_claims):
        for f, claim in enumerate(found):
            overlap = min(gold["end"], claim.end) - max(gold["start"], claim.start)
            if overlap > 0:
                pairs.append((overlap, g, f))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    used_g, used_f, matched = set(), set(), []
    for _, g, f in pairs:
        if g not in used_g and f not in used_f:
            used_g.add(g)
            used_f.add(f)
            matched.append((g, f))
    tp = len(matched)
    precision = tp / len(found) if found else 0.0
    recall = tp / len(gold_claims) if gold_claims else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    correct = sum(_same_speaker(gold_claims[g].get("speaker"), found[f].speaker)
                  for g, f in matched)
    return {"gold": len(gold_claims), "found": len(found), "matched": tp,
            "precision": precision, "recall": recall, "f1": f1,
            "speaker_correct": correct,
            "speaker_accuracy": correct / tp if tp else 0.0}


# =============================================================================================
# Internals
# =============================================================================================

@dataclass(frozen=True)
class _Speaker:
    text: str
    start: int
    end: int
    # Set when the speaker was resolved from a pronoun or a role phrase to a name: the name's
    # words, so that the occurrence nearest the claim can be given (K4).
    key: tuple[str, ...] | None = None


@dataclass(frozen=True)
class _Claim:
    start: int
    end: int
    speaker: _Speaker | None
    cue: str | None


class _Context:
    """What the finder remembers while it walks the document."""

    def __init__(self, doc: Doc):
        self.doc = doc
        self.persons = [e for e in _ents(doc) if e.label_ == "PERSON"]
        self.orgs = [e for e in _ents(doc) if e.label_ in {"ORG", "NORP", "FAC"}]
        self.unit = 0
        self.last_org: tuple[int, _Speaker] | None = None  # (unit, speaker) of an organisation


def _same_speaker(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return _norm_speaker(a) == _norm_speaker(b)


def _norm_speaker(s: str) -> str:
    s = " ".join(s.split()).casefold()
    return s[4:] if s.startswith("the ") else s


def _strip(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Quote marks at either end and final punctuation out (K2)."""
    while start < end and (text[start] in _QUOTE_CHARS or text[start].isspace()
                           or text[start] in ",;:–—-"):
        start += 1
    while end > start and (text[end - 1] in _QUOTE_CHARS or text[end - 1] in _END_PUNCT):
        end -= 1
    if end - start < 3 or not any(ch.isalpha() for ch in text[start:end]):
        return None
    return start, end


def _char_span(doc: Doc, start: int, end: int) -> Span:
    return doc.char_span(start, end, alignment_mode="expand")


def _has_figure(sent: Span) -> bool:
    return any(e.label_ in _FIGURE_LABELS for e in _ents_in(sent))


def _has_digits(unit: Span) -> bool:
    """A number in a headline, where title case hides it from the NER (not a year)."""
    return any(t.like_num and any(ch.isdigit() for ch in t.text) and t.ent_type_ not in {
        "DATE", "TIME", "ORDINAL"} and not (len(t.text) == 4 and t.text[:2] in {"19", "20"})
        for t in unit)


def _in_sent(token: Token, sent: Span) -> bool:
    return sent.start <= token.i < sent.end


# ---------------------------------------------------------------------------------------------
# Units: sentences, cut again at line breaks (a headline is never part of the first sentence)
# ---------------------------------------------------------------------------------------------

def _units(doc: Doc) -> tuple[list[Span], list[int]]:
    units: list[Span] = []
    paragraph: list[int] = []
    para = 0
    for sent in doc.sents:
        start = sent.start
        for tok in sent:
            if tok.is_space and "\n" in tok.text:
                if tok.i > start:
                    units.append(doc[start:tok.i])
                    paragraph.append(para)
                para += 1
                start = tok.i + 1
        if start < sent.end:
            units.append(doc[start:sent.end])
            paragraph.append(para)
    return units, paragraph


def _is_headline(unit: Span) -> bool:
    """A line of its own without the punctuation that ends a sentence."""
    doc = unit.doc
    words = [t for t in unit if not t.is_space]
    if not words or len(words) > 25 or words[-1].text in {".", "!", "?", "”", "\"", "’", "»"}:
        return False
    return unit.end >= len(doc) or "\n" in doc[unit.end].text or "\n" in unit[-1].whitespace_


def _headline(unit: Span, ctx: _Context) -> list[_Claim]:
    """Attributed headlines (K3): "Source: content" (cue ":") and "Source Says content".
    Title case defeats the parser, so this reads the words, not the parse."""
    doc = unit.doc
    toks = [t for t in unit if not t.is_space]
    colon = next((k for k, t in enumerate(toks) if t.text == ":"), None)
    if colon is not None and 0 < colon < len(toks) - 2:
        first = colon
        while first > 0 and toks[first - 1].text not in {"–", "—", "-", "|", ":"} \
                and colon - first < 6:
            first -= 1
        head = toks[first:colon]
        if head and head[0].text[:1].isupper() and not any(t.pos_ == "VERB" for t in head):
            speaker = _Speaker(doc[head[0].i:head[-1].i + 1].text, head[0].idx,
                               head[-1].idx + len(head[-1]))
            span = _strip(_text(doc), toks[colon + 1].idx, unit.end_char)
            if span is not None:
                return [_Claim(span[0], span[1], speaker, ":")]
    for k, t in enumerate(toks):
        if k == 0 or k >= len(toks) - 2 or not _is_headline_verb(t):
            continue
        first = k
        while first > 0 and toks[first - 1].lower_ not in _HEADLINE_STOPS \
                and toks[first - 1].text[:1].isupper() and k - first < 5:
            first -= 1
        if first == k or not toks[first].text[:1].isupper():
            continue
        speaker = _Speaker(doc[toks[first].i:toks[k - 1].i + 1].text, toks[first].idx,
                           toks[k - 1].idx + len(toks[k - 1]))
        rest = k + 1
        if toks[rest].lower_ == "that":
            rest += 1
        if not _headline_clause(toks[rest:]):
            continue  # "X Denies Fraud as Trial Opens": an act, no asserted content
        span = _strip(_text(doc), toks[rest].idx, unit.end_char)
        if span is not None:
            return [_Claim(span[0], span[1], speaker, t.text)]
    return []


def _headline_clause(toks: list[Token]) -> bool:
    """Headline content after a verb of saying is a clause: a verb before any headline stop
    ("Dengue Season Could Be Worst", "Inflation Has Peaked"; not "Fraud as Trial Opens")."""
    for t in toks:
        if t.lower_ in _HEADLINE_STOPS or t.text in {",", ";", ":"}:
            return False
        if t.pos_ in {"VERB", "AUX"} or t.tag_ in {"VBZ", "VBD", "VBP", "MD"}:
            return True
    return False


def _is_headline_verb(t: Token) -> bool:
    low = t.lower_
    if not t.text[:1].isupper():
        return False
    for lemma in _HEADLINE_VERBS:
        if low in {lemma, lemma + "s", lemma + "es"} or (lemma.endswith("y") and
                                                        low == lemma[:-1] + "ies"):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Attribution inside one unit
# ---------------------------------------------------------------------------------------------

def _attributed(sent: Span, ctx: _Context) -> list[_Claim]:
    """Attributed claims in one unit: reporting verbs (closest to the root first),
    "according to", passive or adverbial attribution."""
    doc = sent.doc
    claims: list[_Claim] = []
    covered: list[tuple[int, int]] = []  # token ranges already claimed

    def inside(i: int) -> bool:
        return any(a <= i < b for a, b in covered)

    def add(start_tok: int, end_tok: int, speaker: _Speaker | None, cue: str | None,
            whole: bool = False, check_call: bool = True) -> None:
        if whole:
            start_tok, end_tok = sent.start, sent.end
        start_tok, end_tok = max(start_tok, sent.start), min(end_tok, sent.end)
        if end_tok <= start_tok:
            return
        covered.append((start_tok, end_tok))
        if check_call and _is_call(doc[start_tok:end_tok]):
            return  # an exhortation, a promise or a call: not a claim (K1)
        span = _strip(_text(doc), doc[start_tok].idx, doc[end_tok - 1].idx + len(doc[end_tok - 1]))
        if span is None:
            return
        claims.append(_Claim(span[0], span[1], speaker, cue))
        if speaker is not None and speaker.key is None and _is_org_speaker(doc, speaker):
            ctx.last_org = (ctx.unit, speaker)

    verbs = sorted((t for t in sent if _is_reporting(t)), key=_depth)
    for verb in verbs:
        if inside(verb.i):
            continue
        passive = any(c.dep_ in {"auxpass", "nsubjpass"} for c in verb.children)
        comp = [c for c in verb.children if c.dep_ == "ccomp" and _in_sent(c, sent)] \
            or _comp_under_source(verb, sent)
        if passive:
            if verb.lemma_ not in _PASSIVE_LEMMAS:
                continue
            agent = _agent(verb)
            speaker = _speaker_of(agent, ctx) if agent is not None else None
            expletive = any(c.dep_ == "nsubjpass" and c.lower_ == "it" for c in verb.children)
            if comp and expletive:  # "It was reported that ..."
                start, end = _clause_bounds(comp[0], verb)
                add(start, end, speaker, verb.text)
            elif any(c.dep_ == "xcomp" for c in verb.children):  # "are said to be ..."
                add(0, 0, speaker, verb.text, whole=True)
            continue
        subject = _subject(verb, sent)
        if subject is None or subject.dep_ == "expl":
            continue
        speaker = _speaker_of(subject, ctx)
        if speaker is None:
            continue
        if comp and comp[0].i < verb.i and _frame_at_end(verb, subject, sent) \
                and not inside(sent.start):
            # "A, and B, officials said.": the frame at the end governs all before it
            add(sent.start, min(subject.left_edge.i, verb.i), speaker, verb.text)
        elif comp:
            for start, end in _clauses(comp[0], verb):
                add(start, end, speaker, verb.text)
            _article_voice_head(verb, sent, add, inside)
        elif verb.lemma_ in _OBJECT_CUES and _object_claim(verb):
            # "X accused Y of Z", "X blamed Y": the clause, or the sentence (K2)
            if verb.dep_ == "conj" and verb.head.i < verb.i:
                add(verb.i, verb.right_edge.i + 1, speaker, verb.text, check_call=False)
            elif verb.dep_ == "ROOT":
                add(0, 0, speaker, verb.text, whole=True, check_call=False)
            else:
                after = [c for c in verb.rights if c.dep_ in {"dobj", "prep", "oprd", "advcl"}]
                if verb.dep_ in {"relcl", "advcl"} and after:
                    first = min(c.left_edge.i for c in after)
                    add(first, verb.right_edge.i + 1, speaker, verb.text, check_call=False)
        elif (verb.dep_ in {"parataxis", "advcl"} and verb.head.pos_ in {"VERB", "AUX"}
              and _in_sent(verb.head, sent) and not inside(verb.head.i)
              or not _in_sent(verb.head, sent) or verb.dep_ == "ROOT" and not _quote_before(verb)) \
                and verb.lemma_ not in _NEED_CLAUSE and _is_inserted(verb, subject) \
                and verb.i - sent.start > 3:
            # "..., the army said, ..." inside the sentence: the frame is not separable (K2).
            if _frame_at_end(verb, subject, sent):
                add(sent.start, min(subject.left_edge.i, verb.i), speaker, verb.text)
            else:
                add(0, 0, speaker, verb.text, whole=True)
        elif verb.dep_ == "ROOT" and verb.lemma_ not in _NEED_CLAUSE and _quote_before(verb):
            # "“...,” he said." where the parse gave no ccomp: the claim is what comes before.
            start = sent.start
            end = min(subject.left_edge.i, verb.i)
            if end > start:
                add(start, end, speaker, verb.text)

    if not claims and not covered:
        frame = _trailing_frame(sent)
        if frame is not None:
            cut, first, verb = frame
            add(sent.start, cut, _speaker_of_range(doc, first, verb.i, ctx), verb.text)

    for tok in sent:  # "according to X"
        if tok.lower_ == "according" and tok.i + 1 < len(doc) and doc[tok.i + 1].lower_ == "to" \
                and not inside(tok.i):
            obj = next((c for c in doc[tok.i + 1].children if c.dep_ == "pobj"), None)
            if obj is None:
                continue
            speaker = _speaker_of(obj, ctx)
            phrase_start, phrase_end = tok.i, max(obj.right_edge.i + 1, tok.i + 2)
            named = _apposed_name(doc, phrase_end, sent)
            if named is not None:  # "according to a monitoring group, the X Group, ..."
                speaker, phrase_end = named
            if phrase_start - sent.start <= 1:  # phrase opens the sentence
                add(phrase_end, sent.end, speaker, "according to")
            elif sent.end - phrase_end <= 1 or doc[phrase_start - 1].text == ",":
                # the phrase closes the sentence (with its apposition: ", according to X, a Y")
                add(sent.start, phrase_start, speaker, "according to")
            else:
                add(0, 0, speaker, "according to", whole=True)

    if not claims and not covered:
        for tok in sent:
            if tok.lower_ in _ADVERB_CUES:
                add(0, 0, None, tok.text, whole=True)
                break
    claims.sort(key=lambda c: c.start)
    return claims


def _is_reporting(t: Token) -> bool:
    if t.pos_ not in {"VERB", "AUX"} or t.lemma_.lower() not in _REPORTING_LEMMAS:
        return False
    if t.lemma_.lower() in _NEED_CLAUSE:
        return any(c.dep_ == "ccomp" for c in t.children)
    return True


def _depth(t: Token) -> int:
    d = 0
    while t.head.i != t.i:
        t, d = t.head, d + 1
    return d


def _subject(verb: Token, sent: Span | None = None) -> Token | None:
    """The verb's subject, or the subject it shares through a conjunction or participle
    ("... and added that", "..., confirming that"). A reporting verb that the parse hung inside
    another one's complement ("said it had X but stressed that Y") shares that one's subject."""
    t = verb
    for _ in range(4):
        subjs = [c for c in t.children if c.dep_ in {"nsubj", "nsubjpass"}]
        if sent is not None and len(subjs) > 1:  # a headline the parse hung on the sentence
            subjs = [c for c in subjs if _in_sent(c, sent)] or subjs
        subj = subjs[-1] if subjs else None
        if t.i != verb.i and t.dep_ == "ccomp" and _is_reporting(t.head) and verb.dep_ == "conj" \
                and verb.head.i == t.i:
            t = t.head
            continue
        if subj is not None:
            return subj if subj.dep_ == "nsubj" or t.i != verb.i else None
        if t.dep_ not in {"conj", "advcl", "xcomp"} or t.head.i == t.i:
            return None
        t = t.head
    return None


def _agent(verb: Token) -> Token | None:
    by = next((c for c in verb.children if c.dep_ == "agent"), None)
    if by is None:
        return None
    return next((c for c in by.children if c.dep_ == "pobj"), None)


def _clause_bounds(comp: Token, verb: Token) -> tuple[int, int]:
    """Token range of a complement clause without "that" and without the frame."""
    start, end = comp.left_edge.i, comp.right_edge.i + 1
    if verb.i < comp.i:  # "X said (that) ..."
        start = max(start, verb.i + 1)
    else:  # "..., X said": the clause ends before the frame
        end = min(end, verb.i)
    while start < end and comp.doc[start].dep_ == "mark" and comp.doc[start].lower_ in {
            "that", "whether", "if"}:
        start += 1
    while start < end and comp.doc[start].lower_ == "that" and comp.doc[start].head is comp:
        start += 1
    return start, end


def _clauses(comp: Token, verb: Token) -> list[tuple[int, int]]:
    """The complement as one range per assertion (K1): "said that A and that B" gives A and B;
    a reporting verb the parse hung inside the complement ("A but stressed that B") ends it."""
    doc = comp.doc
    start, end = _clause_bounds(comp, verb)
    cuts = []
    for c in doc[start:end]:
        if c.dep_ != "conj" or c.pos_ not in {"VERB", "AUX"}:
            continue
        own_that = any(m.dep_ == "mark" and m.lower_ == "that" for m in c.children)
        if own_that or (c.head.i == comp.i and (_is_reporting(c) or c.lemma_ in _CALL_VERBS)):
            cuts.append(c)
    if not cuts:
        return [(start, end)]
    out = []
    for c in sorted(cuts, key=lambda c: c.i):
        left = c.left_edge.i
        stop = left
        while stop > start and (doc[stop - 1].dep_ in {"cc", "punct"}):
            stop -= 1
        out.append((start, stop))
        if c.head.i == comp.i and (_is_reporting(c) or c.lemma_ in _CALL_VERBS):
            start = end  # that verb is a claim of its own, found in its turn
            break
        start = left
        while start < end and doc[start].lower_ == "that":
            start += 1
    if start < end:
        out.append((start, end))
    return [(a, b) for a, b in out if b > a]


def _article_voice_head(verb: Token, sent: Span, add, inside) -> None:
    """"X kept the rate at 5.5 percent and warned that ...": the clause before the reporting
    verb is the article's own figure claim (K1, K3)."""
    head = verb.head
    if verb.dep_ not in {"conj", "advcl"} or head.i > verb.i or not _in_sent(head, sent) \
            or _is_reporting(head) or inside(head.i):
        return
    doc = sent.doc
    stop = verb.left_edge.i
    while stop > sent.start and doc[stop - 1].dep_ in {"cc", "punct"}:
        stop -= 1
    part = doc[sent.start:stop]
    if any(e.label_ in _FIGURE_LABELS and e.end <= stop for e in _ents_in(sent)) and len(part) > 3:
        add(sent.start, stop, None, None, check_call=False)


def _object_claim(verb: Token) -> bool:
    """"described X as Y", "accused X of Y", "blamed X (for Y)", "denied X"."""
    kids = list(verb.children)
    if not any(c.dep_ in {"dobj", "xcomp"} for c in kids):
        return False
    preps = {c.lower_ for c in kids if c.dep_ in {"prep", "oprd"}} | {
        p.lower_ for c in kids if c.dep_ == "dobj" for p in c.children if p.dep_ == "prep"}
    lemma = verb.lemma_.lower()
    if lemma == "describe":
        return "as" in preps
    if lemma == "accuse":
        return "of" in preps
    if lemma in {"report", "estimate"}:  # "reported a 38 percent fall", not "reported rises"
        return any(t.ent_type_ in _FIGURE_LABELS for c in kids if c.dep_ == "dobj"
                   for t in c.subtree)
    return True


def _comp_under_source(verb: Token, sent: Span) -> list[Token]:
    """"said in a video posted online that ...": the parse hangs the clause on the participle."""
    out = []
    for prep in verb.children:
        if prep.dep_ != "prep":
            continue
        for pobj in prep.children:
            for acl in pobj.children:
                if acl.dep_ == "acl":
                    out += [c for c in acl.children if c.dep_ == "ccomp" and _in_sent(c, sent)]
    return out


def _trailing_frame(sent: Span) -> tuple[int, int, Token] | None:
    """"..., local officials and aid workers said." where the parse lost the subject: a comma,
    a noun phrase with no verb, a reporting verb, then only its own adjuncts."""
    doc = sent.doc
    words = [t for t in sent if not t.is_space]
    while words and words[-1].is_punct:
        words.pop()
    verb = next((t for t in reversed(words) if t.pos_ == "VERB"), None)
    if verb is None or verb.lemma_.lower() not in _REPORTING_LEMMAS \
            or verb.lemma_.lower() in _NEED_CLAUSE - {"show", "find"}:
        return None
    if any(t.pos_ in {"VERB", "AUX"} for t in words if t.i > verb.i):
        return None
    first = verb.i
    while first - 1 > sent.start and doc[first - 1].pos_ in {"NOUN", "PROPN", "ADJ", "DET",
                                                            "CCONJ", "PART", "PRON", "NUM"}:
        first -= 1
    while first < verb.i and doc[first].pos_ == "CCONJ":
        first += 1
    if first == verb.i or doc[first - 1].text != "," or first - 1 - sent.start < 4 \
            or not any(t.pos_ in {"NOUN", "PROPN", "PRON"} for t in doc[first:verb.i]):
        return None
    return first - 1, first, verb


def _speaker_of_range(doc: Doc, start: int, end: int, ctx: _Context) -> _Speaker | None:
    """The speaker written as the words start..end when the parse gives no head."""
    span = doc[start:end]
    ents = [e for e in _ents_in(span) if e.label_ in _NAME_LABELS]
    if ents:
        return _Speaker(ents[-1].text, ents[-1].start_char, ents[-1].end_char)
    nouns = [t for t in span if t.pos_ in {"NOUN", "PROPN", "PRON"}]
    if len(nouns) == 1:
        return _speaker_of(nouns[0], ctx)
    while start < end - 1 and doc[start].lower_ in _ARTICLES:
        start += 1
    span = doc[start:end]
    return _Speaker(span.text, span.start_char, span.end_char) if len(span) else None


def _apposed_name(doc: Doc, k: int, sent: Span) -> tuple[_Speaker, int] | None:
    """", the X Group," right after a phrase: the name and the end of the apposition."""
    if k >= sent.end or doc[k].text != ",":
        return None
    j = k + 1
    if j < sent.end and doc[j].lower_ == "the":
        j += 1
    ent = next((e for e in _ents_in(sent) if e.start == j and e.label_ in _NAME_LABELS), None)
    if ent is None or ent.end >= sent.end or doc[ent.end].text != ",":
        return None
    return _Speaker(ent.text, ent.start_char, ent.end_char), ent.end + 1


def _is_inserted(verb: Token, subject: Token) -> bool:
    """The frame stands between commas or after the main clause."""
    doc = verb.doc
    first = min(subject.left_edge.i, verb.i)
    return first > 0 and doc[first - 1].text in {",", "”", "\"", "’", "»"}


def _frame_at_end(verb: Token, subject: Token, sent: Span) -> bool:
    """"..., the institute said in its bulletin.": nothing after the frame but its own words."""
    last = max(verb.right_edge.i, subject.right_edge.i)
    rest = [t for t in sent.doc[last + 1:sent.end] if not (t.is_punct or t.is_space)]
    return not rest and subject.i > verb.head.i if verb.head.i < verb.i else False


def _quote_before(verb: Token) -> bool:
    doc = verb.doc
    return any(doc[i].text in {"”", "\"", "»", "’"} for i in range(max(0, verb.i - 4), verb.i))


# ---------------------------------------------------------------------------------------------
# Exhortations, promises and calls (K1)
# ---------------------------------------------------------------------------------------------

def _is_call(span: Span | None) -> bool:
    """The content is an exhortation, a promise or a call: "We have to cooperate", "There must
    be a halt", "We will reach every child", "Every ballot will be counted", "(it said) it
    would fight the closure", "(she said) the government was ready to help"."""
    if span is None or len(span) == 0:
        return False
    roots = [t for t in span if not (span.start <= t.head.i < span.end) or t.head.i == t.i]
    verbs = [t for t in roots if t.pos_ in {"VERB", "AUX"}]
    if not verbs:
        return False
    root = verbs[0]
    kids = list(root.children)
    aux = {c.lower_ for c in kids if c.dep_ in {"aux", "auxpass"}}
    subj = next((c for c in kids if c.dep_ in {"nsubj", "nsubjpass", "expl"}), None)
    low = subj.lower_ if subj is not None else ""
    if "must" in aux:
        return True
    if subj is None and root.tag_ == "VB" and not aux and root.i == span.start:
        return True  # imperative
    if low in _FIRST_SECOND:
        if aux & {"will", "shall", "'ll", "should"}:
            return True
        if root.lemma_ in {"need", "have"} and any(
                c.dep_ == "xcomp" and any(a.lower_ == "to" for a in c.children) for c in kids):
            return True
        if root.lemma_ == "need" and any(c.dep_ == "dobj" for c in kids):
            return True
    if low == "there" and aux & {"will", "shall", "'ll"}:
        return True
    if aux & {"will", "shall"} and subj is not None and subj.dep_ == "nsubjpass" \
            and any(t.lower_ == "every" for t in subj.subtree):
        return True  # "Every ballot will be counted"
    if "would" in aux and low in {"it", "we", "i"} and span.start > 0 \
            and span[0].text not in _QUOTE_CHARS and span.doc[span.start - 1].text not in _QUOTE_CHARS:
        return True  # reported promise: "(X said) it would fight the closure"
    if root.lemma_ == "be" and any(c.dep_ == "acomp" and c.lower_ in _COMMITMENT_ADJ and any(
            x.dep_ == "xcomp" for x in c.children) for c in kids):
        return True  # "the government was ready to support ..."
    return False


# ---------------------------------------------------------------------------------------------
# Speakers (K4)
# ---------------------------------------------------------------------------------------------

def _speaker_of(head: Token, ctx: _Context, depth: int = 0) -> _Speaker | None:
    """The speaker string for a subject or object head: its name, a resolved pronoun or role
    phrase, else the phrase up to its head, without a leading article (K4). None for an "it"
    that nothing resolves."""
    doc = head.doc
    low = head.lower_
    if low in _RELATIVES and head.head.dep_ == "relcl":  # "X, who said ...": the speaker is X
        return _speaker_of(head.head.head, ctx, depth + 1)
    if low == "it" and head.pos_ == "PRON":
        if ctx.last_org is not None and ctx.unit - ctx.last_org[0] <= 2:
            sp = ctx.last_org[1]
            return _Speaker(sp.text, sp.start, sp.end, tuple(sp.text.casefold().split()))
        return None
    if (low in _PRONOUNS and head.pos_ == "PRON") or not any(ch.isalpha() for ch in head.text):
        # a pronoun, or a parse that made a quote mark the subject: the last person named
        before = [p for p in ctx.persons if p.end <= head.i]
        subjects = [p for p in before if _is_subject_person(p)]
        if subjects and head.i - subjects[-1].end < 400:  # tokens: a few paragraphs
            return _named(subjects[-1])
        if before:
            return _named(before[-1])
    # A name in apposition: "the mining companies' association, Ibram, said".
    for c in head.children:
        if c.dep_ == "appos" and c.pos_ == "PROPN":
            ent = _ent_at(doc, c.i)
            if ent is not None and ent.label_ in _NAME_LABELS:
                return _Speaker(ent.text, ent.start_char, ent.end_char)
            return _Speaker(doc[c.left_edge.i:c.i + 1].text.removeprefix("the ").strip(),
                            doc[c.left_edge.i].idx, c.idx + len(c))
    if head.ent_type_ in _NAME_LABELS:
        ent = _ent_at(doc, head.i)
        if ent is not None:
            ent = _whole_name(ent)
            return _Speaker(ent.text, ent.start_char, ent.end_char)
    # A name inside the subject phrase ("the defence minister Jane Doe", "Jane Doe, a researcher").
    names = [e for e in _ents(doc) if e.label_ == "PERSON"
             and head.left_edge.i <= e.start and e.end <= head.right_edge.i + 1]
    if names:
        e = min(names, key=lambda e: abs(e.start - head.i))
        return _Speaker(e.text, e.start_char, e.end_char)
    noun = head.lemma_.lower()
    dets = {c.lower_ for c in head.children if c.dep_ in {"det", "poss"}}
    has_name_mod = any(c.dep_ in {"compound", "poss"} and c.ent_type_ in _NAME_LABELS
                       for c in head.children)
    if noun in _DOCUMENT_NOUNS and depth < 3:
        author = _author(head, ctx, depth)
        if author is not None:
            return author
    if dets & _DEFINITE or any(c.dep_ == "poss" for c in head.children):
        if noun in _PERSON_ROLES and not has_name_mod:
            p = _person_with_role(doc, ctx, noun, head.i)
            if p is not None:
                return _named(p)
        according = head.dep_ == "pobj" and head.head.lower_ == "to" and head.head.i > 0 \
            and doc[head.head.i - 1].lower_ == "according"
        if noun in _ORG_NOUNS and not has_name_mod and (head.dep_ != "pobj" or according):
            o = _org_with_noun(doc, ctx, noun, head.i)
            if o is not None:
                return _named(o)
            o = _compound_mention(doc, noun, head.i)
            if o is not None:  # "the ministry": "the health ministry" before
                return _named(o)
            if ctx.last_org is not None and ctx.unit - ctx.last_org[0] <= 1 \
                    and noun not in {"government", "army", "court", "parliament", "cabinet"}:
                sp = ctx.last_org[1]  # "according to X. The regulator said ..."
                return _Speaker(sp.text, sp.start, sp.end, tuple(sp.text.casefold().split()))
    start, end = head.left_edge.i, head.i + 1
    of = next((c for c in head.rights if c.dep_ == "prep" and c.lower_ == "of"), None)
    if of is not None and of.i == end:  # "the mayor of the town": the "of" phrase stays
        end = of.right_edge.i + 1
    conj = next((c for c in head.rights if c.dep_ == "conj" and c.pos_ in {"NOUN", "PROPN"}),
                None)
    if conj is not None and head.dep_ in {"nsubj", "pobj"}:  # "officials and aid workers"
        end = max(end, conj.right_edge.i + 1)
    rel = next((c for c in head.rights if c.dep_ == "relcl"), None)
    if rel is not None and rel.left_edge.i == end and head.tag_ == "NNS" \
            and not dets and rel.right_edge.i < head.head.i:
        end = rel.right_edge.i + 1  # "Sailors who make the runs say": a restrictive clause
    for k in range(start, end - 1):  # never across a line break or a dateline dash
        if (doc[k].is_space and "\n" in doc[k].text) or doc[k].text in {"—", "–"}:
            start = k + 1
    while start < end - 1 and (doc[start].lower_ in _ARTICLES or doc[start].is_punct):
        start += 1
    span = doc[start:end]
    return _Speaker(span.text, span.start_char, span.end_char)


def _is_subject_person(p: Span) -> bool:
    """The name is the subject of its sentence's main verb or of a reporting verb, directly or
    through the noun it is apposed to ("Anne Kemp said ...", "Her lawyer, X, said ...");
    not a subject inside reported content ("... said Hallam had known")."""
    tok = p.root
    if tok.dep_ == "appos" or (tok.dep_ == "compound" and tok.head.dep_ == "appos"):
        tok = tok.head if tok.dep_ == "appos" else tok.head.head
    if tok.dep_ == "pobj" and tok.head.lower_ == "to" and tok.head.i > 0 \
            and tok.doc[tok.head.i - 1].lower_ == "according":
        return True  # "According to X, ..."
    if tok.dep_ not in {"nsubj", "nsubjpass"}:
        return False
    verb = tok.head
    return verb.dep_ == "ROOT" or verb.lemma_.lower() in _REPORTING_LEMMAS


def _ent_at(doc: Doc, i: int) -> Span | None:
    return next((e for e in _ents(doc) if e.start <= i < e.end), None)


def _named(ent: Span) -> _Speaker:
    return _Speaker(ent.text, ent.start_char, ent.end_char, tuple(ent.text.casefold().split()))


def _whole_name(ent: Span) -> Span:
    """A name the NER cut at a connector ("International Longshore and" + "Warehouse Union
    Canada"): run on over the proper nouns that follow."""
    doc = ent.doc
    end = ent.end
    if ent.label_ == "PERSON" or doc[end - 1].lower_ not in {"and", "of", "for", "&"}:
        return ent
    while end < len(doc) and (doc[end].pos_ == "PROPN" or doc[end].lower_ in {"of", "and"}):
        end += 1
    while doc[end - 1].lower_ in {"of", "and"}:
        end -= 1
    return doc[ent.start:end]


def _is_org_speaker(doc: Doc, sp: _Speaker) -> bool:
    span = doc.char_span(sp.start, sp.end, alignment_mode="expand")
    if span is None:
        return False
    if any(e.label_ == "PERSON" for e in _ents_in(span)):
        return False
    return any(t.lemma_.lower() in _ORG_NOUNS for t in span) or any(
        e.label_ in {"ORG"} for e in _ents_in(span))


def _title_window(doc: Doc, ent: Span) -> list[Token]:
    """Words that give a name its role: up to six before it in the same clause ("Health
    Minister X", "the country's president, X") and an apposition after it ("X, a doctor")."""
    out = []
    i = ent.start - 1
    while i >= 0 and ent.start - i <= 6 and not doc[i].is_space and doc[i].text not in {
            ".", ";", "“", "”", "\"", "—", "–"} and doc[i].pos_ not in {"VERB", "AUX"} \
            and doc[i].ent_type_ != "PERSON":
        out.append(doc[i])  # not across a verb or another name ("Judge X said Y had ...")
        i -= 1
    if ent.end < len(doc) and doc[ent.end].text == ",":
        for t in doc[ent.end + 1:min(len(doc), ent.end + 5)]:
            if t.is_punct:
                break
            out.append(t)
    return out


def _person_with_role(doc: Doc, ctx: _Context, role: str, i: int) -> Span | None:
    """The person the text gives this role: the nearest before, else the nearest after."""
    def has(p: Span) -> bool:
        return any(t.lemma_.lower() == role or t.lower_ == role for t in _title_window(doc, p))
    before = [p for p in ctx.persons if p.end <= i and has(p)]
    if before:
        return before[-1]
    after = [p for p in ctx.persons if p.start > i and has(p)]
    return after[0] if after else None


def _org_with_noun(doc: Doc, ctx: _Context, noun: str, i: int) -> Span | None:
    """The organisation the text names with this head noun: its name holds the noun ("the bank":
    "Reserve Bank of X"), the noun stands before it ("carmaker X") or in apposition to it."""
    def has(o: Span) -> bool:
        if any(t.lower_ == noun or t.lemma_.lower() == noun for t in o):
            return True
        return any(t.lemma_.lower() == noun or t.lower_ == noun for t in _title_window(doc, o))
    before = [o for o in ctx.orgs if o.end <= i and has(o)]
    if before:
        return before[-1]
    for t in doc[:i]:  # "the association, Ibram,"
        if t.lemma_.lower() == noun:
            for c in t.children:
                if c.dep_ == "appos" and c.pos_ == "PROPN":
                    ent = _ent_at(doc, c.i)
                    if ent is not None:
                        return ent
    if noun in {"company", "firm", "group", "organisation", "organization", "body"}:
        titled = [o for o in _ents(doc) if o.end <= i and o.label_ in _NAME_LABELS and any(
            t.lemma_.lower() in _ORG_NOUNS for t in _title_window(doc, o))]
        before = titled or [o for o in ctx.orgs if o.end <= i and o.label_ == "ORG"]
        if before:
            return before[-1]
    return None


def _compound_mention(doc: Doc, noun: str, i: int) -> Span | None:
    """The nearest earlier mention of the noun with a compound modifier ("the health ministry",
    "the interior ministry") for a bare "the ministry"."""
    for t in reversed(doc[:i]):
        if t.lemma_.lower() == noun and t.pos_ == "NOUN":
            comps = [c for c in t.lefts if c.dep_ == "compound"]
            if comps:
                return doc[comps[0].i:t.i + 1]
    return None


def _author(head: Token, ctx: _Context, depth: int) -> _Speaker | None:
    """Who speaks through a document: "a study by X", "data from X", "X's report"; for "the
    report", the author of its earlier mention, else the last organisation that spoke (K4)."""
    doc = head.doc
    for c in head.children:
        if c.dep_ == "prep" and c.lower_ in {"by", "from", "of"}:
            obj = next((o for o in c.children if o.dep_ == "pobj"), None)
            if obj is not None and obj.ent_type_ in _NAME_LABELS:
                ent = _ent_at(doc, obj.i)
                if ent is not None:
                    ent = _whole_name(ent)
                    return _Speaker(ent.text, ent.start_char, ent.end_char)
        if c.dep_ == "poss" and c.ent_type_ in _NAME_LABELS:
            ent = _ent_at(doc, c.i)
            if ent is not None:
                return _named(ent)
    dets = {c.lower_ for c in head.children if c.dep_ in {"det", "poss"}}
    if not dets & _DEFINITE:
        return None
    noun = head.lemma_.lower()
    for t in reversed(doc[:head.i]):
        if t.lemma_.lower() != noun or t.pos_ != "NOUN":
            continue
        gov = t.head
        if t.dep_ == "pobj" and gov.dep_ == "prep":
            gov = gov.head
        if t.dep_ in {"dobj", "pobj"} and gov.pos_ in {"VERB", "AUX"}:
            subj = next((c for c in gov.children if c.dep_ == "nsubj"), None)
            if subj is not None and subj.lower_ not in _SUBJECT_PRONOUNS:
                sp = _speaker_of(subj, ctx, depth + 1)
                if sp is not None:
                    return _Speaker(sp.text, sp.start, sp.end,
                                    sp.key or tuple(sp.text.casefold().split()))
        break
    if ctx.last_org is not None:
        sp = ctx.last_org[1]
        return _Speaker(sp.text, sp.start, sp.end, tuple(sp.text.casefold().split()))
    return None


def _nearest_mention(doc: Doc, claim: _Claim) -> _Speaker:
    """For a resolved speaker, the occurrence of its name nearest the claim, outside the claim
    span where there is one (K4): a surname alone counts as an occurrence of the full name."""
    sp = claim.speaker
    if sp.key is None:
        return sp
    key = list(sp.key)
    mentions = []
    for e in _ents(doc):
        words = e.text.casefold().split()
        if not words or e.label_ not in _NAME_LABELS:
            continue
        if words == key or (e.label_ == "PERSON" and words == key[-len(words):]) or (
                e.label_ != "PERSON" and words == key[:len(words)]):
            mentions.append((e.start_char, e.end_char, e.text))
    mentions.append((sp.start, sp.end, sp.text))

    def distance(m):
        s, e, _ = m
        if e <= claim.start:
            return claim.start - e
        if s >= claim.end:
            return s - claim.end
        return 10 ** 9
    best = min(mentions, key=distance)
    return _Speaker(best[2], best[0], best[1])


# ---------------------------------------------------------------------------------------------
# Quotes
# ---------------------------------------------------------------------------------------------

def _quoted_part(sent: Span, quotes: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The part of a sentence inside a quote, when the quote covers most of the sentence."""
    for qs, qe in quotes:
        start, end = max(qs, sent.start_char), min(qe, sent.end_char)
        if end - start > 0.5 * (sent.end_char - sent.start_char):
            return start, end
    return None


def _governing(per_unit: list[list[_Claim]], units: list[Span], paragraph: list[int], i: int,
               quoted: tuple[int, int]) -> _Claim | None:
    """The attributed claim that governs a quoted sentence without a verb of its own (K5): the
    frame inside the same quotation, else the sentence just before the quotation in the same
    paragraph, else the one just after it, else the nearest one around."""
    qs, qe = quoted
    # the whole quotation this sentence belongs to
    region = [j for j, u in enumerate(units) if u.start_char < qe + 40 and u.end_char > qs - 40
              and paragraph[j] == paragraph[i]]
    first, last = min(region + [i]), max(region + [i])

    def speaking(j: int) -> list[_Claim]:
        if not 0 <= j < len(per_unit):
            return []
        return [c for c in per_unit[j] if c.speaker is not None and c.cue]
    order = list(range(i + 1, last + 1)) + list(range(i - 1, first - 1, -1))
    for j in order:
        with_speaker = speaking(j)
        if with_speaker:
            return with_speaker[0] if j > i else with_speaker[-1]
    for j in (first - 1, last + 1):
        if 0 <= j < len(units) and paragraph[j] == paragraph[i] and speaking(j):
            return speaking(j)[0] if j > i else speaking(j)[-1]
    for j in (i + 1, i - 1, i + 2, i - 2):
        if speaking(j):
            return speaking(j)[0] if j > i else speaking(j)[-1]
    return None
