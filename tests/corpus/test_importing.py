import io
import json

import pytest
from django.core.management import CommandError, call_command

from annotation.tasks import pretag_articles
from corpus import importing
from corpus.models import Article, ImportBatch, flush_search_index
from tests.factories import ArticleFactory


def write_jsonl(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows), encoding="utf-8")
    return path


def test_txt_file_is_stored_whole_with_its_first_line_as_title(db, tmp_path):
    path = tmp_path / "report.txt"
    path.write_text("\ufeffRaid on the border\n\nHabib Essid said 36 attackers died.\n", encoding="utf-8")
    batch = importing.import_files([path])
    article = batch.articles.get()
    assert article.title == "Raid on the border"
    assert article.text == "Raid on the border\n\nHabib Essid said 36 attackers died.\n"
    assert (batch.stored, batch.duplicates, batch.failed) == (1, 0, 0)


def test_jsonl_rows_keep_their_metadata(db, tmp_path):
    path = write_jsonl(tmp_path / "batch.jsonl", [
        {"text": "Headline one\nBody.", "url": "https://example.org/1", "source": "Daily Mail",
         "published": "2017-08-15"},
        {"text": "Second text.", "title": "Given title"},
    ])
    batch = importing.import_files([path])
    first, second = batch.articles.order_by("pk")
    assert (first.title, first.source.name, str(first.published)) == ("Headline one", "Daily Mail", "2017-08-15")
    assert second.title == "Given title"


def test_bad_rows_are_reported_and_good_rows_kept(db, tmp_path):
    path = write_jsonl(tmp_path / "mixed.jsonl", [
        {"text": "Good one."}, "{not json", {"title": "no text"}, {"text": "   "},
        {"text": "Bad date.", "published": "yesterday"}, ["a list"], {"text": "Good two."},
    ])
    batch = importing.import_files([path])
    assert batch.stored == 2
    assert batch.failed == 5
    assert [e["row"] for e in batch.errors] == [2, 3, 4, 5, 6]
    assert "not valid JSON" in batch.errors[0]["error"]
    assert 'missing "text"' in batch.errors[1]["error"]


def test_duplicates_within_and_across_batches_are_skipped_and_counted(db, tmp_path):
    ArticleFactory(text="Already here.")
    path = write_jsonl(tmp_path / "dupes.jsonl", [
        {"text": "Already  here."}, {"text": "New."}, {"text": "new."}])
    batch = importing.import_files([path])
    assert (batch.stored, batch.duplicates) == (1, 2)
    assert Article.objects.count() == 2


def test_a_pretagged_batch_leaves_the_full_text_index_with_nothing_pending(db, tmp_path, nlp):
    """A batch's articles enter the search index as they are pre-tagged; once the batch is
    ready they are in the index proper, not its pending list, which would make the planner read
    every article for a search (corpus.models.flush_search_index)."""
    ArticleFactory.create_batch(30)  # saved one by one: their index entries wait
    assert flush_search_index() > 0
    ArticleFactory.create_batch(30)
    path = write_jsonl(tmp_path / "batch.jsonl", [{"text": f"Dispatch {n} on the border raid."}
                                                   for n in range(60)])
    batch = importing.import_files([path])
    ids = list(batch.articles.values_list("pk", flat=True))
    pretag_articles(ids[:30])
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.STORED  # half pre-tagged: not yet
    pretag_articles(ids[30:])
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.READY
    assert flush_search_index() == 0  # nothing left pending, the batch's or earlier
    assert Article.objects.search("dispatch 42").get().text == "Dispatch 42 on the border raid."


def test_undecodable_file_is_a_file_error_and_other_files_still_import(db, tmp_path):
    bad = tmp_path / "latin.txt"
    bad.write_bytes(b"Caf\x81 attack")  # neither UTF-8 nor cp1252 (0x81 is undefined there)
    good = tmp_path / "good.txt"
    good.write_text("Fine text.", encoding="utf-8")
    cp1252 = tmp_path / "windows.txt"
    cp1252.write_bytes("“Café” attack".encode("cp1252"))
    batch = importing.import_files([bad, good, cp1252])
    assert batch.stored == 2
    assert batch.errors == [{"file": "latin.txt", "row": None,
                             "error": batch.errors[0]["error"]}]
    assert "UTF-8" in batch.errors[0]["error"]
    assert batch.articles.filter(text="“Café” attack").exists()


def test_utf16_text_with_a_byte_order_mark_is_read(db, tmp_path):
    path = tmp_path / "wide.txt"
    path.write_bytes("Sirte report".encode("utf-16"))
    assert importing.import_files([path]).articles.get().text == "Sirte report"


def test_pretagging_is_enqueued_only_after_commit(db, tmp_path, django_capture_on_commit_callbacks, broker):
    path = write_jsonl(tmp_path / "b.jsonl", [{"text": f"Text {n}."} for n in range(120)])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        importing.import_files([path])
    assert importing.PRETAG_CHUNK == 50
    assert len(callbacks) == 3  # chunks of 50
    assert broker.queues[pretag_articles.queue_name].qsize() == 3


def test_command_reports_rows_and_refuses_missing_files(db, tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", [{"text": "One."}, "oops"])
    out, err = io.StringIO(), io.StringIO()
    call_command("import_articles", "--sync", "--no-wait", str(path), stdout=out, stderr=err)
    assert "1 stored, 0 duplicate, 1 failed" in out.getvalue()
    assert "c.jsonl, line 2: not valid JSON" in err.getvalue()
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_articles", str(tmp_path / "missing.txt"))
    assert ImportBatch.objects.count() == 1


def test_unsupported_file_type_is_refused_clearly(db, tmp_path):
    path = tmp_path / "notes.docx"
    path.write_bytes(b"PK")
    with pytest.raises(CommandError, match="Nothing could be imported"):
        call_command("import_articles", "--sync", str(path), stdout=io.StringIO(), stderr=io.StringIO())


def test_confirmed_import_stores_spans_as_decisions_links_and_learns(db, tmp_path, broker):
    from annotation.learning import knowledge
    from annotation.models import Entity, Mention

    text = "Habib Essid met NATO in Tunis. Essid said 36 died."
    path = write_jsonl(tmp_path / "gold.jsonl", [{"text": text, "spans": [
        {"start": 0, "end": 11, "label": "ACTOR", "text": "Habib Essid"},
        {"start": 16, "end": 20, "label": "GROUP"}, {"start": 24, "end": 29, "label": "PLACE"},
        {"start": 31, "end": 36, "label": "ACTOR"}, {"start": 42, "end": 44, "label": "FIGURE"}]}])
    batch = importing.import_files([path], confirmed=True)
    article = batch.articles.get()
    assert article.status == "submitted"
    assert set(article.mentions.values_list("origin", "status")) == {("analyst", "confirmed")}
    essid = article.mentions.get(text="Essid")
    assert (essid.entity.name, essid.link_reason) == ("Habib Essid", "surname of Habib Essid")
    assert Entity.objects.count() == 3
    assert {"pattern": "NATO", "label": "GROUP"}.items() <= next(
        p for p in knowledge().patterns if p["pattern"] == "NATO").items()
    assert broker.queues.get("default") is None or broker.queues["default"].qsize() == 0
    assert Mention.objects.count() == 5


@pytest.mark.parametrize(("spans", "message"), [
    ([{"start": 0, "end": 99, "label": "ACTOR"}], "lies outside the text"),
    ([{"start": 0, "label": "ACTOR"}], 'needs integer "start" and "end"'),
    ([{"start": 0, "end": 5, "label": "WEAPON"}], "unknown label WEAPON"),
    ([{"start": 0, "end": 5, "label": "ACTOR"}, {"start": 3, "end": 8, "label": "PLACE"}], "spans overlap"),
    ([{"start": 0, "end": 5, "label": "ACTOR", "text": "Other"}], "the offsets hold 'Habib'"),
])
def test_bad_spans_are_row_errors(db, tmp_path, spans, message):
    path = write_jsonl(tmp_path / "bad.jsonl", [{"text": "Habib Essid spoke.", "spans": spans}])
    batch = importing.import_files([path], confirmed=True)
    assert batch.stored == 0
    assert message in batch.errors[0]["error"]
