"""Reading an import's files into chunks ready to store, in place or in a process of its own
(corpus/reading.py): both ways give the same chunks, and the process's failures reach the
import."""

import io
import zipfile

import pytest

from corpus import formats, importing, reading
from corpus.models import ImportBatch
from tests.corpus.test_importing import write_jsonl


@pytest.fixture
def files(tmp_path):
    """A mix of kinds and problems: a bad JSONL line, a duplicate, a file too large, a zip."""
    jsonl = write_jsonl(tmp_path / "batch.jsonl", [
        {"text": "Raid near Sirte\u00a0left 36 dead\u2026", "source": "Libya Herald"},
        "{not json",
        {"text": "Second text.\n\nShare this"},
        {"text": "Raid near Sirte left 36 dead..."},  # the first one, normalised
    ])
    txt = tmp_path / "report.txt"
    txt.write_text("Headline\n\nBody of the report.\n", encoding="utf-8")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("one.txt", "Zipped one\n\nBody.")
        zipped.writestr("two.csv", "title,text\nCSV title,CSV body\n")
    zip_path = tmp_path / "more.zip"
    zip_path.write_bytes(archive.getvalue())
    return [jsonl, txt, zip_path]


def chunks(reader: reading.Reader) -> list[list[tuple]]:
    try:
        return [[(ready.row.file, ready.row.number, ready.row.text, ready.row.title, ready.row.error,
                  ready.row.warnings, ready.text_hash, ready.bounds) for ready in chunk]
                for chunk in reader]
    finally:
        reader.close()


@pytest.mark.parametrize("from_disk", [True, False])
def test_a_process_of_its_own_reads_what_reading_in_place_reads(files, from_disk):
    listed = [(path.name, path if from_disk else None) for path in files]

    def fetch(index):
        return files[index].read_bytes()

    def read(apart):
        return chunks(reading.Reader(listed, size=3, fetch=fetch, total_bytes=0, claims=False,
                                     apart=apart))

    in_place, apart = read(False), read(True)
    assert apart == in_place
    assert [len(chunk) for chunk in apart] == [3, 3, 1]  # chunks run across files
    rows = [row for chunk in apart for row in chunk]
    assert rows[1][4].startswith("not valid JSON")
    assert rows[0][6] == rows[3][6]  # same normalised text, same hash
    assert rows[2][2][slice(*rows[2][7])] == "Second text."  # body bounds computed
    assert [row[0] for row in rows][-2:] == ["more.zip/one.txt", "more.zip/two.csv"]


def test_the_import_limits_in_force_reach_the_process(files, monkeypatch):
    monkeypatch.setattr(formats, "MAX_FILE_BYTES", 60)
    rows = [row for chunk in chunks(reading.Reader([(files[0].name, files[0])], size=10, fetch=None,
                                                   total_bytes=0, claims=False, apart=True))
            for row in chunk]
    assert len(rows) == 1 and "over the" in rows[0][4]


def test_an_error_in_the_process_is_raised_in_the_import(files):
    reader = reading.Reader([("broken.txt", None)], size=10, fetch=lambda index: 12345,
                            total_bytes=0, claims=False, apart=True)
    with pytest.raises(RuntimeError, match="Reading the import's files failed"):
        chunks(reader)


def test_a_process_that_dies_stops_the_import_with_a_message(files):
    reader = reading.Reader([(path.name, path) for path in files], size=1, fetch=None,
                            total_bytes=0, claims=False, apart=True)
    received = iter(reader)
    next(received)
    reader._process._child.kill()
    with pytest.raises(RuntimeError, match="stopped .* before it had read them all"):
        list(received)
    reader.close()


def test_closing_before_the_end_stops_the_process(files):
    reader = reading.Reader([(path.name, path) for path in files], size=1, fetch=None,
                            total_bytes=0, claims=False, apart=True)
    next(iter(reader))
    reader.close()
    assert reader._process._child.poll() is not None


def test_large_imports_are_read_apart_and_stored_like_small_ones(db, files, monkeypatch):
    """Both entry points, the command's (from disk) and the worker's (kept uploads), with the
    threshold lowered so these small files go to a process of their own."""
    monkeypatch.setattr(reading, "APART_BYTES", 0)
    started = []
    original = reading._Apart.__init__
    monkeypatch.setattr(reading._Apart, "__init__",
                        lambda self, *args, **kwargs: started.append(1) or original(self, *args, **kwargs))
    from_disk = importing.import_files(files)
    assert (from_disk.rows, from_disk.stored, from_disk.duplicates, from_disk.failed) == (7, 5, 1, 1)
    assert from_disk.articles.filter(source__name="Libya Herald").count() == 1
    ImportBatch.objects.all().delete()
    kept = importing.start_import([(path.name, path.read_bytes()) for path in files])
    importing.run(kept.pk)
    kept.refresh_from_db()
    assert (kept.rows, kept.stored, kept.duplicates, kept.failed) == (7, 0, 6, 1)  # all stored before
    assert len(started) == 2


def test_claims_in_a_plain_import_are_left_out_with_a_warning(db, tmp_path):
    path = write_jsonl(tmp_path / "claims.jsonl", [
        {"text": "Essid said 36 died.", "claims": [{"start": 0, "end": 19}]}])
    batch = importing.import_files([path])
    assert batch.stored == 1
    assert 'its "claims" were left out' in batch.warnings[0]["error"]
    assert (batch.warnings[0]["file"], batch.warnings[0]["row"]) == ("claims.jsonl", 1)
