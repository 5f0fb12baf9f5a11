"""Exporting claims (gold shape, W3C Web Annotation, claims with sources) and reading the gold
shape back into a fresh database."""

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation import exporting
from annotation.models import Claim, ClaimLink, Entity, Event, Label, Mention
from corpus import importing
from corpus import text as article_text
from corpus.models import Article, ImportBatch, Source
from tests.factories import ArticleFactory, ClaimFactory, ClaimLinkFactory, MentionFactory, SourceFactory

GOLD = Path("/work/shared/gold/seeds.jsonl")

TEXT_A = ("Habib Essid said 36 attackers were killed in Ben Guerdane. "
          "The army confirmed that seven civilians died. Nobody disputed it.")
TEXT_B = ("Ben Guerdane: officials reported that 36 attackers were killed on Monday, "
          "while the Interior Ministry said only 30 died.")


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def span(text: str, words: str) -> tuple[int, int]:
    start = text.index(words)
    return start, start + len(words)


@pytest.fixture
def corpus(db, analyst):
    """Two articles from two outlets; claims confirmed, suggested and rejected; a speaker linked
    to a graded entity; a link between the articles' claims."""
    actor = Label.objects.get(name="ACTOR")
    a = ArticleFactory(text=TEXT_A, title="Attack", source=SourceFactory(name="TAP", reliability="B"))
    b = ArticleFactory(text=TEXT_B, title="Toll", source=SourceFactory(name="Wire", reliability="C"))
    essid = Entity.objects.create(name="Habib Essid", label=actor, reliability="A")
    speaker = MentionFactory(article=a, start=0, end=11, entity=essid, status="confirmed")
    # A rejected suggestion under a confirmed mention: they overlap, which only rejected ones may.
    MentionFactory(article=a, start=0, end=5, status="rejected")
    said = ClaimFactory(article=a, **_span(TEXT_A, "36 attackers were killed in Ben Guerdane"),
                        speaker="Habib Essid", speaker_start=0, speaker_end=11, speaker_mention=speaker,
                        cue="said", status="confirmed", origin="model", credibility=2,
                        graded_by=analyst, decided_by=analyst)
    ClaimFactory(article=a, **_span(TEXT_A, "seven civilians died"), speaker="The army",
                 speaker_start=span(TEXT_A, "The army")[0], speaker_end=span(TEXT_A, "The army")[1],
                 cue="confirmed", status="suggested")
    ClaimFactory(article=a, **_span(TEXT_A, "Nobody disputed it."), status="rejected", origin="analyst")
    reported = ClaimFactory(article=b, **_span(TEXT_B, "36 attackers were killed on Monday"),
                            speaker="officials", speaker_start=14, speaker_end=23, cue="reported",
                            status="confirmed", origin="analyst")
    ClaimFactory(article=b, **_span(TEXT_B, "only 30 died"), speaker="the Interior Ministry",
                 speaker_start=span(TEXT_B, "the Interior Ministry")[0],
                 speaker_end=span(TEXT_B, "the Interior Ministry")[1], cue="said", status="confirmed")
    link = ClaimLinkFactory(claim=said, other=reported, relation="corroborates", created_by=analyst,
                            evidence_start=span(TEXT_B, "36 attackers")[0],
                            evidence_end=span(TEXT_B, "36 attackers")[1])
    return {"a": a, "b": b, "said": said, "reported": reported, "link": link}


def _span(text, words):
    start, end = span(text, words)
    return {"start": start, "end": end}


def claim_snapshot() -> set[tuple]:
    return set(Claim.objects.values_list(
        "article__text_hash", "start", "end", "text", "speaker", "speaker_start", "speaker_end", "cue",
        "direct", "status", "origin", "credibility", "graded_by__username", "speaker_mention__entity__name"))


def link_snapshot() -> set[tuple]:
    return set(ClaimLink.objects.values_list(
        "claim__article__text_hash", "claim__start", "claim__end", "relation",
        "other__article__text_hash", "other__start", "other__end", "evidence_start", "evidence_end",
        "created_by__username"))


def wipe() -> None:
    """A fresh database, as far as annotations go (users, labels and outlets stay)."""
    Event.objects.all().delete()
    ClaimLink.objects.all().delete()
    Claim.objects.all().delete()
    Mention.objects.all().delete()
    Entity.objects.all().delete()
    Article.objects.all().delete()
    ImportBatch.objects.all().delete()


# =============================================================================================
# The gold shape
# =============================================================================================

def test_gold_shape_has_the_claims_with_status_origin_credibility_and_links(corpus, analyst):
    lines = {line["title"]: line for line in exporting.gold_shaped()}
    claims = lines["Attack"]["claims"]
    assert [c["status"] for c in claims] == ["confirmed", "suggested", "rejected"]
    first = claims[0]
    start, end = span(TEXT_A, "36 attackers were killed in Ben Guerdane")
    assert {k: first[k] for k in ("start", "end", "text", "speaker", "speaker_start", "speaker_end",
                                  "cue", "direct", "status", "origin", "credibility")} == {
        "start": start, "end": end, "text": TEXT_A[start:end], "speaker": "Habib Essid",
        "speaker_start": 0, "speaker_end": 11, "cue": "said", "direct": False,
        "status": "confirmed", "origin": "model", "credibility": 2}
    assert first["links"] == [{
        "relation": "corroborates",
        "other": {"article": corpus["b"].text_hash, "start": corpus["reported"].start,
                  "end": corpus["reported"].end},
        "evidence_start": span(TEXT_B, "36 attackers")[0], "evidence_end": span(TEXT_B, "36 attackers")[1],
        "created_by": "alice"}]
    # The article's own voice: no speaker, no cue, as in seeds.jsonl.
    assert claims[2]["speaker"] is None and claims[2]["cue"] is None
    assert lines["Attack"]["text_hash"] == corpus["a"].text_hash
    # Each link once: on the claim it starts from, not on its other end.
    assert all(c["links"] == [] for c in lines["Toll"]["claims"])


def test_jsonl_command_writes_claims(corpus, tmp_path):
    path = tmp_path / "out.jsonl"
    _, err = run("export_annotations", "--format", "jsonl", "-o", str(path))
    assert "Wrote 2 articles" in err
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [len(line["claims"]) for line in lines] == [3, 2]


# =============================================================================================
# W3C Web Annotation
# =============================================================================================

def test_selectors_quote_the_span_with_32_characters_either_side_cut_at_the_text_edges():
    text = "x" * 40 + "Habib Essid" + "y" * 40
    quote, position = exporting.selectors(text, 40, 51)
    assert quote == {"type": "TextQuoteSelector", "exact": "Habib Essid", "prefix": "x" * 32,
                     "suffix": "y" * 32}
    assert position == {"type": "TextPositionSelector", "start": 40, "end": 51}
    at_start, _ = exporting.selectors("Essid said so.", 0, 5)
    assert at_start["prefix"] == "" and at_start["suffix"] == " said so."
    at_end, _ = exporting.selectors("He said so.", 8, 11)
    assert at_end["prefix"] == "He said " and at_end["suffix"] == ""


def test_jsonld_is_one_annotation_collection_of_mentions_and_claims(corpus, tmp_path):
    path = tmp_path / "out.jsonld"
    _, err = run("export_annotations", "--format", "jsonld", "-o", str(path))
    document = json.loads(path.read_text(encoding="utf-8"))
    assert "http://www.w3.org/ns/anno.jsonld" in document["@context"]
    assert "AnnotationCollection" in document["type"]
    items = document["first"]["items"]
    assert document["first"]["type"] == "AnnotationPage"
    assert len(items) == 2 + 3 + 2  # two mentions and three claims in A, two claims in B
    assert "Wrote 7 annotations" in err
    assert len({item["id"] for item in items}) == 7
    texts = {f"urn:sourcemark:article:{a.text_hash}": a.text for a in (corpus["a"], corpus["b"])}
    for item in items:
        assert item["@context"] == "http://www.w3.org/ns/anno.jsonld"
        assert item["type"] == "Annotation" and item["id"].startswith("urn:sourcemark:article:")
        assert item["created"]
        text = texts[item["target"]["source"]]
        quote, position = item["target"]["selector"]
        start, end = position["start"], position["end"]
        assert quote["exact"] == text[start:end]
        assert quote["prefix"] == text[max(0, start - 32):start]
        assert quote["suffix"] == text[end:end + 32]
        assert text.find(quote["prefix"] + quote["exact"] + quote["suffix"]) == start - len(quote["prefix"])

    mention = next(i for i in items
                   if i["motivation"] == "tagging" and i["target"]["selector"][1]["end"] == 11)
    assert mention["body"][0] == {"type": "TextualBody", "purpose": "tagging", "value": "ACTOR"}
    entity = next(b for b in mention["body"] if b["purpose"] == "identifying")
    assert entity["source"] == "urn:sourcemark:entity:ACTOR:Habib%20Essid"

    claim = next(i for i in items if i["id"].endswith(f":claim:{corpus['said'].start}-{corpus['said'].end}"))
    assert claim["motivation"] == "describing"
    assert claim["creator"] == {"type": "Software", "name": "Sourcemark"}  # found by the model
    bodies = {b.get("role") or b["purpose"]: b for b in claim["body"]}
    assert bodies["speaker"]["value"] == "Habib Essid"
    assert bodies["speaker"]["source"] == "urn:sourcemark:entity:ACTOR:Habib%20Essid"
    assert bodies["speaker"]["selector"][0]["exact"] == "Habib Essid"
    assert bodies["cue"]["value"] == "said"
    assert bodies["assessing"]["value"] == "2: probably true"
    assert bodies["classifying"]["value"] == "confirmed"


def test_jsonld_with_a_base_url_targets_the_app_pages(corpus):
    out, _ = run("export_annotations", "--format", "jsonld", "--base-url", "https://sm.example")
    items = json.loads(out)["first"]["items"]
    assert items[0]["target"]["source"] == f"https://sm.example{corpus['a'].get_absolute_url()}"


# =============================================================================================
# Claims with their sources
# =============================================================================================

def test_claims_jsonl_gives_each_claim_its_outlet_speaker_and_links_both_ways(corpus):
    out, _ = run("export_annotations", "--format", "claims-jsonl")
    claims = [json.loads(line) for line in out.splitlines()]
    assert len(claims) == 5
    said = claims[0]
    assert said["article"]["text_hash"] == corpus["a"].text_hash
    assert said["outlet"] == {"name": "TAP", "reliability": "B"}
    assert said["speaker_entity"] == {"name": "Habib Essid", "label": "ACTOR", "reliability": "A"}
    assert (said["credibility"], said["graded_by"], said["status"]) == (2, "alice", "confirmed")
    [out_link] = said["links"]
    assert out_link["direction"] == "out" and out_link["relation"] == "corroborates"
    assert out_link["other"]["article"] == corpus["b"].text_hash
    assert out_link["other"]["text"] == "36 attackers were killed on Monday"
    assert out_link["evidence"] == {"article": corpus["b"].text_hash, "text": "36 attackers",
                                    "start": span(TEXT_B, "36 attackers")[0],
                                    "end": span(TEXT_B, "36 attackers")[1]}
    assert out_link["created_by"] == "alice"
    reported = next(c for c in claims if c["text"] == "36 attackers were killed on Monday")
    [in_link] = reported["links"]
    assert in_link["direction"] == "in"
    assert in_link["other"]["text"] == "36 attackers were killed in Ben Guerdane"
    assert in_link["evidence"]["text"] == "36 attackers"  # in this claim's own article


def test_claims_csv_has_one_row_per_claim_and_source(corpus):
    out, _ = run("export_annotations", "--format", "claims-csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == exporting.CSV_COLUMNS
    said = [r for r in rows if r["claim_text"] == "36 attackers were killed in Ben Guerdane"]
    assert [r["source_kind"] for r in said] == ["outlet", "speaker", "link"]
    outlet, speaker, link = said
    assert (outlet["source_name"], outlet["source_reliability"]) == ("TAP", "B")
    assert (speaker["source_name"], speaker["source_reliability"], speaker["source_start"]) == (
        "Habib Essid", "A", "0")
    assert (link["relation"], link["other_article_hash"], link["evidence_text"], link["linked_by"]) == (
        "corroborates", corpus["b"].text_hash, "36 attackers", "alice")
    # Every claim has its outlet row; the article's own voice has no speaker row.
    assert len([r for r in rows if r["source_kind"] == "outlet"]) == 5
    assert not [r for r in rows if r["claim_text"] == "Nobody disputed it." and r["source_kind"] == "speaker"]


def test_bad_options_are_clear_errors(db, tmp_path):
    with pytest.raises(CommandError, match="invalid choice"):
        run("export_annotations", "--format", "xml")
    with pytest.raises(CommandError, match="--base-url only applies"):
        run("export_annotations", "--format", "jsonl", "--base-url", "https://x.example")
    with pytest.raises(CommandError, match="must start with http"):
        run("export_annotations", "--format", "jsonld", "--base-url", "sm.example")
    with pytest.raises(CommandError, match="Cannot write"):
        run("export_annotations", "--format", "claims-csv", "-o", str(tmp_path / "no" / "x.csv"))


def test_queries_do_not_grow_with_the_number_of_claims(db):
    def count(claims: int) -> int:
        Article.objects.all().delete()
        text = "".join(f"Claim {i:03d} says this. " for i in range(claims))
        articles = [ArticleFactory(text=f"{n} {text}") for n in range(3)]
        for article in articles:
            made = [ClaimFactory(article=article, start=s, end=s + 10)
                    for s in range(2, 2 + 21 * claims, 21)]
        end = len(articles[0].text)
        ClaimLinkFactory(claim=made[0], other=ClaimFactory(article=articles[0], start=end - 3, end=end))
        with CaptureQueriesContext(connection) as queries:
            for export in (exporting.gold_shaped, exporting.claims_with_sources, exporting.web_annotations):
                assert list(export(chunk_size=10))
        return len(queries)

    few, many = count(2), count(20)
    assert few == many <= 3 * 6, (few, many)


# =============================================================================================
# Round trip
# =============================================================================================

def test_an_export_imported_into_a_fresh_database_gives_back_the_claims_and_links(corpus, tmp_path):
    path = tmp_path / "export.jsonl"
    run("export_annotations", "--format", "jsonl", "-o", str(path))
    claims, links = claim_snapshot(), link_snapshot()
    articles = set(Article.objects.values_list("text_hash", "title", "source__name"))
    assert len(claims) == 5 and len(links) == 1
    wipe()
    assert not Claim.objects.exists()

    out, err = run("import_articles", "--confirmed", str(path))
    assert "2 stored, 0 duplicate, 0 failed" in out, err
    assert claim_snapshot() == claims
    assert link_snapshot() == links
    assert set(Article.objects.values_list("text_hash", "title", "source__name")) == articles
    # Mentions come back as decisions; the rejected suggestion stays out.
    assert list(Mention.objects.values_list("start", "end", "status")) == [(0, 11, "confirmed")]
    assert Event.objects.filter(action="article.import_claims").count() == 2

    # Importing it again is harmless.
    out, _ = run("import_articles", "--confirmed", str(path))
    assert "0 stored, 2 duplicate, 0 failed" in out
    assert Claim.objects.count() == 5 and ClaimLink.objects.count() == 1


def test_links_are_added_to_claims_already_stored(corpus, tmp_path):
    path = tmp_path / "export.jsonl"
    run("export_annotations", "-o", str(path))
    ClaimLink.objects.all().delete()
    run("import_articles", "--confirmed", str(path))
    assert ClaimLink.objects.count() == 1 and Claim.objects.count() == 5


def test_a_link_stored_the_other_way_round_is_not_stored_twice(corpus, tmp_path):
    path = tmp_path / "export.jsonl"
    run("export_annotations", "-o", str(path))
    link = corpus["link"]
    ClaimLink.objects.all().delete()
    ClaimLinkFactory(claim=link.other, other=link.claim, evidence_start=0, evidence_end=5)
    run("import_articles", "--confirmed", str(path))
    assert ClaimLink.objects.count() == 1


def test_the_gold_seeds_claims_are_imported_as_confirmed_analyst_claims(db):
    batch = importing.import_files([GOLD], confirmed=True)
    assert batch.failed == 0, batch.errors
    gold = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert Claim.objects.count() == sum(len(doc["claims"]) for doc in gold)
    assert set(Claim.objects.values_list("status", "origin")) == {("confirmed", "analyst")}
    first = gold[0]["claims"][0]
    claim = Claim.objects.get(start=first["start"], end=first["end"],
                              article__text_hash=Article.objects.order_by("pk").first().text_hash)
    assert (claim.speaker, claim.speaker_start, claim.speaker_end, claim.cue) == (
        first["speaker"], first["speaker_start"], first["speaker_end"], first["cue"])


# =============================================================================================
# Bad input
# =============================================================================================

def write(tmp_path, *rows) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def row(text: str, *claims) -> dict:
    return {"text": text, "spans": [], "claims": list(claims)}


def claim(text: str, words: str, **more) -> dict:
    start, end = span(text, words)
    return {"start": start, "end": end, **more}


def test_a_link_to_a_claim_nowhere_is_a_row_error_and_stores_nothing_of_that_row(db, tmp_path):
    ghost = {"relation": "same", "other": {"article": "0" * 64, "start": 0, "end": 5},
             "evidence_start": 0, "evidence_end": 5}
    path = write(tmp_path, row(TEXT_A, claim(TEXT_A, "seven civilians died", links=[ghost])),
                 row(TEXT_B, claim(TEXT_B, "only 30 died")))
    batch = importing.import_files([path], confirmed=True)
    assert batch.stored == 1 and batch.failed == 1
    [error] = batch.errors
    assert error["row"] == 1 and "no such claim in this file or the database" in error["error"]
    assert list(Article.objects.values_list("text", flat=True)) == [TEXT_B]
    assert list(Claim.objects.values_list("text", flat=True)) == ["only 30 died"]


def test_a_row_linking_to_a_failed_row_fails_too(db, tmp_path):
    start, end = span(TEXT_B, "only 30 died")
    to_b = {"relation": "contradicts",
            "other": {"article": article_text.text_hash(TEXT_B), "start": start, "end": end},
            "evidence_start": start, "evidence_end": end}
    path = write(tmp_path, row(TEXT_A, claim(TEXT_A, "seven civilians died", links=[to_b])),
                 row(TEXT_B, claim(TEXT_B, "only 30 died"), {"start": 0, "end": 999}))
    batch = importing.import_files([path], confirmed=True)
    assert batch.stored == 0 and batch.failed == 2
    assert "outside the text" in batch.errors[0]["error"]
    assert "no such claim" in batch.errors[1]["error"]
    assert not Article.objects.exists() and not Claim.objects.exists()


@pytest.mark.parametrize(("claims", "message"), [
    ([{"start": 10, "end": 5000}], "lies outside the text"),
    ([{"start": 0, "end": 20}, {"start": 10, "end": 30}], "overlap"),
    ([{"start": 0, "end": 5, "text": "wrong"}], '"text" says'),
    ([{"start": 0, "end": 5, "speaker": "x", "speaker_start": 0}], "go together"),
    ([{"start": 0, "end": 5, "status": "maybe"}], '"status" must be one of'),
    ([{"start": 0, "end": 5, "credibility": 9}], "1 to 6"),
    ([{"start": 0, "end": 5, "links": [{"relation": "same", "other": {"article": "h", "start": 0, "end": 2},
                                        "evidence_start": 3, "evidence_end": 3}]}], "evidence 3–3 is empty"),
])
def test_bad_claims_are_row_errors(db, tmp_path, claims, message):
    batch = importing.import_files([write(tmp_path, row(TEXT_A, *claims))], confirmed=True)
    assert batch.failed == 1 and batch.stored == 0
    assert message in batch.errors[0]["error"]
    assert batch.errors[0]["error"].startswith("claim") or "overlap" in batch.errors[0]["error"]
    assert not Article.objects.exists()


def test_evidence_outside_the_other_article_is_a_row_error(corpus, tmp_path):
    reported = corpus["reported"]
    link = {"relation": "same", "other": {"article": corpus["b"].text_hash, "start": reported.start,
                                          "end": reported.end},
            "evidence_start": 0, "evidence_end": 10_000}
    batch = importing.import_files([write(tmp_path, row("A new article entirely.",
                                                        {"start": 0, "end": 5, "links": [link]}))],
                                   confirmed=True)
    assert batch.failed == 1 and "outside that article's text" in batch.errors[0]["error"]


def test_a_claim_overlapping_a_stored_claim_of_the_same_article_is_a_row_error(corpus, tmp_path):
    said = corpus["said"]
    path = write(tmp_path, row(TEXT_A, {"start": said.start + 1, "end": said.end + 1}))
    batch = importing.import_files([path], confirmed=True)
    assert batch.failed == 1 and "already stored" in batch.errors[0]["error"]
    assert Claim.objects.count() == 5


def test_without_confirmed_claims_are_not_stored(db, tmp_path, broker):
    batch = importing.import_files([write(tmp_path, row(TEXT_A, claim(TEXT_A, "seven civilians died")))])
    assert batch.stored == 1 and not Claim.objects.exists()


def test_the_import_command_reports_claim_errors_per_line(db, tmp_path):
    path = write(tmp_path, row(TEXT_A, {"start": 10, "end": 5000}))
    with pytest.raises(CommandError, match="Nothing could be imported"):
        call_command("import_articles", "--confirmed", str(path), stdout=io.StringIO(),
                     stderr=(err := io.StringIO()))
    assert "in.jsonl, line 1: claim 1: 10–5000 lies outside the text" in err.getvalue()


def test_outlets_keep_their_grade_on_a_fresh_import(corpus, tmp_path):
    # Outlets are not part of the wipe: their reliability is kept by name.
    path = tmp_path / "export.jsonl"
    run("export_annotations", "-o", str(path))
    wipe()
    run("import_articles", "--confirmed", str(path))
    assert Source.objects.get(name="TAP").reliability == "B"


def test_claims_for_a_stored_text_that_differs_in_spaces_are_a_row_error(corpus, tmp_path):
    path = write(tmp_path, row(TEXT_A.replace(". ", ".  "), {"start": 0, "end": 5}))
    batch = importing.import_files([path], confirmed=True)
    assert batch.failed == 1 and "differs in spaces" in batch.errors[0]["error"]
    assert Claim.objects.count() == 5


def test_claims_csv_never_hands_a_spreadsheet_a_formula(db):
    text = "=HYPERLINK(\"http://x\") is what the post said.\n-5 degrees, officials said."
    article = ArticleFactory(text=text)
    ClaimFactory(article=article, start=0, end=text.index(" is what"), speaker="")
    out, _ = run("export_annotations", "--format", "claims-csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and all(not value.startswith(("=", "+", "-", "@")) for row in rows for value in row.values())
    assert rows[0]["claim_text"].startswith("'=HYPERLINK")
