"""Rule-based claim finder over a parsed spaCy Doc (GUIDELINES.md, "Claims", K1-K5).

spaCy only: imports nothing from Django. The Doc must come from the project pipeline
(`annotation.nlp.load`), so that its FIGURE-like entities already follow C5-C7.

Rules, in this order, one sentence at a time:

    reported speech   a reporting verb with its subject (speaker) and its clausal complement
                      (the claim, without the frame: K2); a frame inserted mid-sentence
                      ("..., the army said, ...") gives the whole sentence
    according to      "according to X": X is the speaker, the rest of the sentence the claim
    passive           "are said to", "are believed to", "It was reported that", "reportedly":
                      speaker None (unless "by X"), the whole sentence or the complement
    direct quotes     a quoted sentence with no verb of its own takes the speaker and cue of the
                      attribution in the same quote or the adjacent sentence (K1, K5)
    article voice     a sentence with a FIGURE-like number (not a date or duration) and no
                      attribution: speaker None, cue None (K3)

Speakers: the name when the subject is or contains one; "he"/"she" resolve to the nearest
preceding person's name (K4); otherwise the subject phrase without a leading article.
Every word list here is a closed class; no name from any article appears in this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spacy.tokens import Doc, Span, Token


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
    "worry", "conclude", "find", "show", "put",
}
# Of those, the ones that also mark a passive/impersonal attribution ("are said to").
_PASSIVE_LEMMAS = {"say", "believe", "report", "think", "estimate", "allege", "know", "rumour",
                   "rumor", "understand", "fear", "claim", "suspect", "consider"}
# Verbs that only count with a clausal complement (too common otherwise).
_NEED_CLAUSE = {"find", "show", "put", "point", "consider", "think", "fear", "worry", "write"}
_ADVERB_CUES = {"reportedly", "allegedly", "purportedly", "supposedly", "apparently"}
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
    quotes = [(m.start(), m.end()) for m in _QUOTE_RE.finditer(doc.text)]
    persons = [e for e in doc.ents if e.label_ == "PERSON"]
    sents = list(doc.sents)
    per_sent: list[list[_Claim]] = []
    for sent in sents:
        per_sent.append(_attributed(sent, persons))
    for i, sent in enumerate(sents):
        if per_sent[i]:
            continue
        quoted = _quoted_part(sent, quotes)
        if quoted is not None:
            source = _adjacent_attribution(per_sent, i)
            if source is not None:
                span = _strip(doc.text, *quoted)
                if span is not None:
                    per_sent[i] = [_Claim(span[0], span[1], source.speaker, source.cue)]
                continue
        if _has_figure(sent):
            span = _strip(doc.text, sent.start_char, sent.end_char)
            if span is not None:
                per_sent[i] = [_Claim(span[0], span[1], None, None)]
    out = []
    for claims in per_sent:
        for c in claims:
            sp = c.speaker
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


@dataclass(frozen=True)
class _Claim:
    start: int
    end: int
    speaker: _Speaker | None
    cue: str | None


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


def _has_figure(sent: Span) -> bool:
    return any(e.label_ in _FIGURE_LABELS for e in sent.ents)


def _in_sent(token: Token, sent: Span) -> bool:
    return sent.start <= token.i < sent.end


def _attributed(sent: Span, persons: list[Span]) -> list[_Claim]:
    """Attributed claims in one sentence: reporting verbs (closest to the root first),
    "according to", passive or adverbial attribution."""
    doc = sent.doc
    claims: list[_Claim] = []
    covered: list[tuple[int, int]] = []  # token ranges already claimed

    def inside(i: int) -> bool:
        return any(a <= i < b for a, b in covered)

    def add(start_tok: int, end_tok: int, speaker: _Speaker | None, cue: str,
            whole: bool = False) -> None:
        if whole:
            start_tok, end_tok = sent.start, sent.end
        span = _strip(doc.text, doc[start_tok].idx, doc[end_tok - 1].idx + len(doc[end_tok - 1]))
        if span is None:
            return
        covered.append((start_tok, end_tok))
        claims.append(_Claim(span[0], span[1], speaker, cue))

    verbs = sorted((t for t in sent if _is_reporting(t)), key=_depth)
    for verb in verbs:
        if inside(verb.i):
            continue
        passive = any(c.dep_ in {"auxpass", "nsubjpass"} for c in verb.children)
        comp = [c for c in verb.children if c.dep_ == "ccomp" and _in_sent(c, sent)]
        if passive:
            if verb.lemma_ not in _PASSIVE_LEMMAS:
                continue
            agent = _agent(verb)
            speaker = _speaker_of(agent, persons) if agent is not None else None
            expletive = any(c.dep_ == "nsubjpass" and c.lower_ == "it" for c in verb.children)
            if comp and expletive:  # "It was reported that ..."
                start, end = _clause_bounds(comp[0], verb)
                add(start, end, speaker, verb.text)
            elif any(c.dep_ == "xcomp" for c in verb.children):  # "are said to be ..."
                add(0, 0, speaker, verb.text, whole=True)
            continue
        subject = _subject(verb)
        if subject is None or subject.lower_ == "it" or subject.dep_ == "expl":
            continue
        speaker = _speaker_of(subject, persons)
        if comp:
            start, end = _clause_bounds(comp[0], verb)
            if start < end:
                add(start, end, speaker, verb.text)
        elif verb.dep_ in {"parataxis", "advcl"} and verb.head.pos_ in {"VERB", "AUX"} \
                and _in_sent(verb.head, sent) and not inside(verb.head.i) \
                and verb.lemma_ not in _NEED_CLAUSE and _is_inserted(verb, subject):
            # "..., the army said, ..." inside the sentence: the frame is not separable (K2).
            add(0, 0, speaker, verb.text, whole=True)
        elif verb.dep_ == "ROOT" and verb.lemma_ not in _NEED_CLAUSE and _quote_before(verb):
            # "“...,” he said." where the parse gave no ccomp: the claim is what comes before.
            start = sent.start
            end = min(subject.left_edge.i, verb.i)
            if end > start:
                add(start, end, speaker, verb.text)

    for tok in sent:  # "according to X"
        if tok.lower_ == "according" and tok.i + 1 < len(doc) and doc[tok.i + 1].lower_ == "to" \
                and not inside(tok.i):
            obj = next((c for c in doc[tok.i + 1].children if c.dep_ == "pobj"), None)
            if obj is None:
                continue
            speaker = _speaker_of(obj, persons)
            phrase_start, phrase_end = tok.i, max(obj.right_edge.i + 1, tok.i + 2)
            if phrase_start - sent.start <= 1:  # phrase opens the sentence
                add(phrase_end, sent.end, speaker, "according to")
            elif sent.end - phrase_end <= 1 or doc[phrase_start - 1].text == ",":
                # the phrase closes the sentence (with its apposition: ", according to X, a Y")
                add(sent.start, phrase_start, speaker, "according to")
            else:
                add(0, 0, speaker, "according to", whole=True)

    if not claims:
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


def _subject(verb: Token) -> Token | None:
    """The verb's subject, or the subject it shares through a conjunction or participle
    ("... and added that", "..., confirming that")."""
    t = verb
    for _ in range(4):
        subj = next((c for c in t.children if c.dep_ in {"nsubj", "nsubjpass"}), None)
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


def _is_inserted(verb: Token, subject: Token) -> bool:
    """The frame stands between commas or after the main clause."""
    doc = verb.doc
    first = min(subject.left_edge.i, verb.i)
    return first > 0 and doc[first - 1].text in {",", "”", "\"", "’", "»"}


def _quote_before(verb: Token) -> bool:
    doc = verb.doc
    return any(doc[i].text in {"”", "\"", "»", "’"} for i in range(max(0, verb.i - 4), verb.i))


def _speaker_of(head: Token, persons: list[Span]) -> _Speaker:
    """The speaker string for a subject or object head: its name, a resolved pronoun, else the
    phrase up to its head, without a leading article (K4)."""
    doc = head.doc
    low = head.lower_
    if low in _RELATIVES and head.head.dep_ == "relcl":  # "X, who said ...": the speaker is X
        return _speaker_of(head.head.head, persons)
    if (low in _PRONOUNS and head.pos_ == "PRON") or not any(ch.isalpha() for ch in head.text):
        # a pronoun, or a parse that made a quote mark the subject: the last person named
        before = [p for p in persons if p.end <= head.i]
        if before:
            p = before[-1]
            return _Speaker(p.text, p.start_char, p.end_char)
    if head.ent_type_ in _NAME_LABELS:
        ent = next((e for e in doc.ents if e.start <= head.i < e.end), None)
        if ent is not None:
            return _Speaker(ent.text, ent.start_char, ent.end_char)
    # A name inside the subject phrase ("the defence minister Jane Doe", "Jane Doe, a researcher").
    names = [e for e in doc.ents if e.label_ == "PERSON"
             and head.left_edge.i <= e.start and e.end <= head.right_edge.i + 1]
    if names:
        e = min(names, key=lambda e: abs(e.start - head.i))
        return _Speaker(e.text, e.start_char, e.end_char)
    start, end = head.left_edge.i, head.i + 1
    of = next((c for c in head.rights if c.dep_ == "prep" and c.lower_ == "of"), None)
    if of is not None and of.i == end:  # "the mayor of the town": the "of" phrase stays
        end = of.right_edge.i + 1
    while start < end - 1 and (doc[start].lower_ in _ARTICLES or doc[start].is_punct):
        start += 1
    span = doc[start:end]
    return _Speaker(span.text, span.start_char, span.end_char)


def _quoted_part(sent: Span, quotes: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The part of a sentence inside a quote, when the quote covers most of the sentence."""
    for qs, qe in quotes:
        start, end = max(qs, sent.start_char), min(qe, sent.end_char)
        if end - start > 0.5 * (sent.end_char - sent.start_char):
            return start, end
    return None


def _adjacent_attribution(per_sent: list[list[_Claim]], i: int) -> _Claim | None:
    """The attributed claim that governs a quoted sentence without a verb of its own: the next
    sentence's, else the previous one's (a quote runs on across sentences)."""
    for j in (i + 1, i - 1, i + 2, i - 2):
        if 0 <= j < len(per_sent):
            with_speaker = [c for c in per_sent[j] if c.speaker is not None and c.cue]
            if with_speaker:
                return with_speaker[0] if j > i else with_speaker[-1]
    return None
