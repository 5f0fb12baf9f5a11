"""Imports in the background: a batch is stored in chunks by a worker, pre-tagged, and ready;
running it again is harmless; a run that dies between chunks is finished by the next one; the
upload page and the batch page (with its progress) for admins."""

import json
import zipfile

import pytest
from django.urls import reverse

from annotation.models import Mention
from corpus import importing
from corpus.models import Article, ImportBatch
from corpus.tasks import import_batch
from tests.factories import ArticleFactory


def jsonl(rows: list) -> bytes:
    return "\n".join(row if isinstance(row, str) else json.dumps(row) for row in rows).encode()


def texts(n: int, start: int = 0) -> list[dict]:
    return [{"text": f"Report {i}. Officials in Tripoli said {i} people were hurt.", "title": f"Report {i}"}
            for i in range(start, start + n)]


class Died(Exception):
    """Stands for a worker killed between two chunks."""


def test_a_run_that_dies_between_chunks_is_finished_by_the_next(db, broker, settings):
    settings.IMPORT_STORE_CHUNK = 10
    ArticleFactory(text="Report 3. Officials in Tripoli said 3 people were hurt.")  # stored before
    batch = importing.start_import([("a.jsonl", jsonl([*texts(25), "{broken"]))])

    def die_after_first_chunk(b: ImportBatch) -> None:
        raise Died

    with pytest.raises(Died):
        importing.run(batch.pk, progress=die_after_first_chunk)
    batch.refresh_from_db()
    # One whole chunk and its counts, nothing of the next.
    assert (batch.status, batch.rows, batch.stored, batch.duplicates) == ("storing", 10, 9, 1)
    assert batch.articles.count() == 9
    importing.run(batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.rows, batch.stored, batch.duplicates, batch.failed) == ("stored", 26, 24, 1, 1)
    assert batch.errors == [{"file": "a.jsonl", "row": 26, "error": batch.errors[0]["error"]}]
    assert batch.articles.count() == 24
    # Running a finished batch again changes nothing.
    importing.run(batch.pk)
    batch.refresh_from_db()
    assert (batch.stored, batch.duplicates, batch.articles.count()) == (24, 1, 24)


@pytest.mark.django_db(transaction=True)
def test_a_worker_stores_pretags_and_readies_a_batch(broker, worker, nlp):
    batch = importing.start_import([("a.jsonl", jsonl(texts(20))), ("b.txt", b"Title line\nBody in Sirte.")])
    assert batch.status == ImportBatch.Status.PENDING
    broker.join(import_batch.queue_name, timeout=60_000)
    worker.join()
    batch.refresh_from_db()
    assert (batch.status, batch.stored, batch.rows) == ("ready", 21, 21)
    assert set(batch.articles.values_list("status", flat=True)) == {"pretagged"}
    assert batch.finished_at is not None
    # Full-text search is filled by the pre-tagging worker, not while storing.
    assert Article.objects.search("Tripoli").count() == 20


def test_prodigy_spans_become_imported_suggestions_with_mapped_labels(db, broker, tmp_path):
    text = "Habib Essid visited Sirte with 50 guards."
    path = tmp_path / "p.jsonl"
    path.write_bytes(jsonl([{"text": text, "spans": [
        {"start": 0, "end": 11, "label": "PERSON"}, {"start": 20, "end": 25, "label": "place"},
        {"start": 31, "end": 33, "label": "WEAPON"}]}]))
    batch = importing.import_files([path])
    mentions = list(Mention.objects.filter(article__batch=batch).values_list("text", "label__name", "origin",
                                                                               "status"))
    assert mentions == [("Habib Essid", "ACTOR", "imported", "suggested"),
                        ("Sirte", "PLACE", "imported", "suggested")]
    assert "unknown label WEAPON" in batch.warnings[0]["error"]


def test_prodigy_spans_are_kept_by_the_pretagger(db, broker, tmp_path, nlp):
    from annotation import extraction

    text = "Habib Essid visited Sirte on Monday."
    path = tmp_path / "p.jsonl"
    path.write_bytes(jsonl([{"text": text, "spans": [{"start": 0, "end": 5, "label": "GROUP"}]}]))
    article = importing.import_files([path]).articles.get()
    extraction.pretag(article, nlp=nlp)
    spans = list(article.mentions.values_list("text", "origin"))
    assert ("Habib", "imported") in spans
    assert not any(t == "Habib Essid" for t, _ in spans)  # nothing suggested over it


@pytest.fixture
def admin_client(client, db):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="adele", roles=["admin"], is_staff=True))
    return client


def test_upload_makes_a_batch_and_its_page_follows_it(admin_client, broker, tmp_path,
                                                      django_capture_on_commit_callbacks):
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("one.txt", "First title\nFirst body in Misrata.")
        zf.writestr("two.csv", "title,text\nSecond,Second body in Sirte.\n")
        zf.writestr("../evil.txt", "outside")
    with archive.open("rb") as upload, django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("corpus:import_list"), {"files": [upload]})
    batch = ImportBatch.objects.get()
    assert response.status_code == 302 and response["Location"] == batch.get_absolute_url()
    assert batch.files == ["many.zip"] and batch.status == "pending"
    assert broker.queues[import_batch.queue_name].qsize() == 1
    importing.run(batch.pk)  # what the worker does
    page = admin_client.get(batch.get_absolute_url()).content.decode()
    assert "pre-tagging" in page and "0 of 2" in page and 'hx-trigger="every 1s"' in page
    assert "evil.txt" in page  # its error is listed
    Article.objects.filter(batch=batch).update(status="pretagged")
    importing.mark_ready([batch.pk])
    fragment = admin_client.get(batch.get_absolute_url(), headers={"HX-Request": "true"}).content.decode()
    assert fragment.lstrip().startswith('<section id="batch-progress"') and "2 of 2" in fragment
    assert "hx-trigger" not in fragment  # finished: the polling stops


@pytest.mark.parametrize(("files", "message"), [
    ([], "Choose one or more files"),
    ([("notes.docx", b"PK")], "Not a file type Sourcemark imports: notes.docx"),
])
def test_bad_uploads_are_refused_in_the_page_and_store_nothing(admin_client, files, message):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = admin_client.post(reverse("corpus:import_list"),
                                 {"files": [SimpleUploadedFile(name, data) for name, data in files]})
    assert response.status_code == 422 and message in response.content.decode()
    assert not ImportBatch.objects.exists()


def test_too_large_an_upload_is_refused(admin_client, monkeypatch):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from corpus import formats

    monkeypatch.setattr(formats, "MAX_FILE_BYTES", 10)
    response = admin_client.post(reverse("corpus:import_list"),
                                 {"files": [SimpleUploadedFile("big.txt", b"x" * 11)]})
    assert response.status_code == 422 and "Larger than the" in response.content.decode()
    assert not ImportBatch.objects.exists()


def test_rerun_enqueues_an_unfinished_batch_again(admin_client, broker, django_capture_on_commit_callbacks):
    batch = importing.start_import([("a.jsonl", jsonl(texts(2)))])
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("corpus:rerun_batch", args=[batch.pk]))
    assert broker.queues[import_batch.queue_name].qsize() == 1
