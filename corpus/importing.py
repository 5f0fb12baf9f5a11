"""Storing articles from files: the import workflow.

An import is an ImportBatch processed in the background (corpus.tasks.import_batch):

    start_import()   keeps the uploaded files with a new batch (pending) and enqueues it;
    run()            reads every file (corpus/formats.py), stores the good rows in chunks, one
                     transaction each (articles, their pre-annotated spans, the batch's counts and
                     the pre-tagging jobs of the chunk), so a worker killed in the middle leaves
                     whole chunks only; running the batch again (the broker redelivers the
                     message) skips what an earlier run stored and finishes the rest;
    mark_ready()     called as pre-tagging finishes: a batch is ready when none of its articles
                     waits for the pre-tagger.

Bad files and rows are reported one by one and never stop the good ones; duplicates (the same
normalised text, in the batch or already stored) are skipped and counted.
"""

import dataclasses
import logging
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from config.bulk import copy_rows
from corpus import reading
from corpus.formats import Row
from corpus.models import Article, ImportBatch, Source, flush_search_index

# Articles a pre-tagging job takes: enough for nlp.pipe to batch well and to keep the queue short
# (10,000 articles make 200 jobs), few enough to spread over every worker process.
PRETAG_CHUNK = 50
logger = logging.getLogger(__name__)


def start_import(files: Iterable[tuple[str, bytes]], *, by=None, confirmed: bool = False) -> ImportBatch:
    """A new pending batch holding the files' contents; its processing is enqueued on commit."""
    from corpus.tasks import import_batch

    with transaction.atomic():
        batch = ImportBatch.objects.create(created_by=by, confirmed=confirmed)
        batch.files = _keep_uploads(batch, files)
        batch.save(update_fields=["files"])
        transaction.on_commit(partial(import_batch.send, batch.pk))
    return batch


def import_files(paths: list[Path], *, by=None, confirmed: bool = False,
                 progress: Callable[[ImportBatch], None] | None = None) -> ImportBatch:
    """Store the files here and now (the command's --sync, tests, evaluate): the batch is made
    as `start_import` makes it and run in this process; pre-tagging is still enqueued. The files
    are read from disk (by a process of their own when they are large, from the start) while
    they are kept in the database, instead of read back from it after."""
    chunks = reading.Reader([(path.name, path) for path in paths], size=settings.IMPORT_STORE_CHUNK,
                            fetch=None, total_bytes=sum(_size(path) for path in paths),
                            claims=confirmed)
    try:
        with transaction.atomic():
            batch = ImportBatch.objects.create(created_by=by, confirmed=confirmed,
                                               files=[path.name for path in paths])
            _keep_uploads(batch, ((path.name, path.read_bytes()) for path in paths))
        return run(batch.pk, progress=progress, chunks=chunks)
    finally:
        chunks.close()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # reported by the reading, file by file
        return 0


@dataclasses.dataclass
class _Tally:
    """What came of the rows so far in this run; written to the batch with every chunk."""

    rows: int = 0
    stored: int = 0
    duplicates: int = 0
    errors: list = dataclasses.field(default_factory=list)
    warnings: list = dataclasses.field(default_factory=list)
    enqueued: set = dataclasses.field(default_factory=set)  # articles this run sent to pre-tag

    def report(self, row: Row) -> None:
        self.errors.append({"file": row.file, "row": row.number, "error": row.error})

    def write(self, batch: ImportBatch, **fields) -> None:
        batch.rows, batch.stored, batch.duplicates = self.rows, self.stored, self.duplicates
        batch.errors, batch.warnings, batch.failed = self.errors, self.warnings, len(self.errors)
        for name, value in fields.items():
            setattr(batch, name, value)
        batch.save(update_fields=["rows", "stored", "duplicates", "errors", "warnings", "failed",
                                  *fields])


def run(batch_id: int, *, progress: Callable[[ImportBatch], None] | None = None,
        chunks: reading.Reader | None = None) -> ImportBatch | None:
    """Store a batch's rows; see the module's docstring. Harmless to run again. `chunks`: the
    batch's rows already being read (import_files), instead of reading its kept files."""
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None:  # deleted since it was queued: nothing to do
            logger.warning("Import batch %s is gone; its job does nothing.", batch_id)
            return None
        if batch.finished:
            return batch
        batch.status = ImportBatch.Status.STORING
        batch.started_at = batch.started_at or timezone.now()
        batch.save(update_fields=["status", "started_at"])
    chunks = chunks or _reader(batch)
    try:
        if batch.confirmed:
            with transaction.atomic():
                return store_confirmed(batch, [ready.row for chunk in chunks for ready in chunk],
                                       by=batch.created_by)
        tally, seen, labels = _Tally(), set(), _LabelMap()
        for chunk in chunks:
            with transaction.atomic():
                _store_chunk(batch, chunk, tally, seen, labels)
                tally.write(batch)
            if progress:
                progress(batch)
    finally:
        chunks.close()
    return _finish(batch, tally)


def _keep_uploads(batch: ImportBatch, files: Iterable[tuple[str, bytes]]) -> list[str]:
    """Store the files with the batch, one row each, the bytes sent as a binary parameter (a
    text-escaped bytea of a 30 MB file takes seconds to build and parse)."""
    names = []
    with _raw_cursor() as cursor:
        for name, content in files:
            cursor.execute("INSERT INTO corpus_importfile (batch_id, name, size, content) "
                           "VALUES (%s, %s, %s, %b)", [batch.pk, name, len(content), content])
            names.append(name)
    return names


def _raw_cursor() -> psycopg.Cursor:
    """A server-side-binding psycopg cursor on Django's connection (its own cursors bind on the
    client side, and cannot send or fetch binary values)."""
    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def _reader(batch: ImportBatch) -> reading.Reader:
    """The batch's kept files, read in order, a file's content fetched only when its turn
    comes (on this connection, in this thread, also when a process of their own reads them)."""
    uploads = list(batch.uploads.values_list("pk", "name", "size"))

    def fetch(index: int) -> bytes:
        with _raw_cursor() as cursor:  # in binary: no hex to decode
            cursor.execute("SELECT content FROM corpus_importfile WHERE id = %s",
                           [uploads[index][0]], binary=True)
            return bytes(cursor.fetchone()[0])

    return reading.Reader([(name, None) for _, name, _ in uploads], size=settings.IMPORT_STORE_CHUNK,
                          fetch=fetch, total_bytes=sum(size for _, _, size in uploads),
                          claims=batch.confirmed)


def _store_chunk(batch: ImportBatch, chunk: list[reading.Ready], tally: _Tally, seen: set[str],
                 labels: "_LabelMap") -> None:
    candidates, spans = {}, {}  # text hash → Ready, and → its pre-annotations, for rows new to this run
    for ready in chunk:
        row = ready.row
        tally.rows += 1
        if row.error:
            tally.report(row)
            continue
        tally.warnings += [{"file": row.file, "row": row.number, "error": w} for w in row.warnings]
        if ready.text_hash in seen:
            tally.duplicates += 1
            continue
        seen.add(ready.text_hash)
        candidates[ready.text_hash] = ready
        if row.spans:
            spans[ready.text_hash] = labels.mentions(row, tally)
    earlier = dict(Article.objects.filter(text_hash__in=candidates).values_list("text_hash", "batch_id"))
    # Stored by an earlier run of this very batch (a worker died after that chunk): counted as
    # stored, not as duplicates, so a re-run reports what a single run would have.
    tally.stored += sum(1 for batch_id in earlier.values() if batch_id == batch.pk)
    tally.duplicates += sum(1 for batch_id in earlier.values() if batch_id != batch.pk)
    fresh = [ready for text_hash, ready in candidates.items() if text_hash not in earlier]
    sources = _sources({ready.row.source for ready in fresh if ready.row.source})
    now, new = timezone.now(), Article.Status.NEW
    # Plain rows to COPY, not Article instances: building 10,000 of those costs more than the
    # insert (COPY itself is several times faster than INSERT for long texts).
    ids = copy_rows(Article, _ARTICLE_FIELDS, [
        (row.title[:500], row.byline[:300], row.url[:1000], row.published, row.text,
         sources[row.source].pk if row.source else None, ready.text_hash, *ready.bounds, new,
         batch.pk, now, now)
        for ready in fresh for row in (ready.row,)])
    tally.stored += len(ids)
    _store_imported_spans([(article_id, spans[ready.text_hash])
                           for article_id, ready in zip(ids, fresh) if ready.text_hash in spans])
    enqueue_pretagging(ids)
    tally.enqueued.update(ids)


# What an import gives an article, in copy_rows order (every other column takes its default).
_ARTICLE_FIELDS = ("title", "byline", "url", "published", "text", "source", "text_hash",
                   "body_start", "body_end", "status", "batch", "created_at", "updated_at")


def _finish(batch: ImportBatch, tally: _Tally) -> ImportBatch:
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        status = (ImportBatch.Status.STORED if tally.stored or tally.duplicates
                  else ImportBatch.Status.FAILED)
        tally.write(batch, status=status, files=list(batch.uploads.values_list("name", flat=True)))
        # Articles an earlier run stored whose pre-tagging may never have been enqueued (the worker
        # died between the commit and the enqueue): enqueue them again; a pre-tagged one is skipped.
        waiting = set(batch.articles.untagged().values_list("pk", flat=True)) - tally.enqueued
        enqueue_pretagging(sorted(waiting))
        if status == ImportBatch.Status.FAILED:
            batch.finished_at = timezone.now()
            batch.save(update_fields=["finished_at"])
    mark_ready([batch.pk])
    batch.refresh_from_db()
    return batch


def where(problem: dict) -> dict:
    """A reported problem's place for people: {"file", "place"} ("line 3" in a JSONL file, "row
    3" in a CSV, nothing for a whole file)."""
    number = problem.get("row")
    unit = "line" if problem["file"].lower().endswith(".jsonl") else "row"
    return {"file": problem["file"], "place": f"{unit} {number}" if number else ""}


def mark_ready(batch_ids: Iterable[int]) -> int:
    """Batches done storing with no article left for the pre-tagger become ready; their
    articles' search entries (written as each was pre-tagged) go into the index proper."""
    waiting = Article.objects.filter(batch=OuterRef("pk"), status=Article.Status.NEW)
    ready = (ImportBatch.objects.filter(pk__in=list(batch_ids), status=ImportBatch.Status.STORED)
             .filter(~Exists(waiting)).update(status=ImportBatch.Status.READY, finished_at=timezone.now()))
    if ready:
        flush_search_index()
    return ready


class _LabelMap:
    """Pre-annotated span labels → our labels: a label's own name (any case) or one of the spaCy
    labels it maps (PERSON → ACTOR), so Prodigy and doccano files import as they are."""

    def __init__(self):
        from annotation.models import Label

        self.labels = {}
        for label in Label.objects.all():
            for name in (label.name, *label.spacy_labels):
                self.labels.setdefault(name.upper(), label)

    def mentions(self, row: Row, tally: _Tally) -> list:
        from annotation.models import Mention

        found, unknown = [], set()
        for start, end, name in row.spans:
            label = self.labels.get(name.upper())
            if label is None:
                unknown.add(name)
                continue
            found.append(Mention(start=start, end=end, text=row.text[start:end], label=label,
                                 model_label=name, origin=Mention.Origin.IMPORTED))
        if unknown:
            tally.warnings.append({"file": row.file, "row": row.number, "error": (
                f"spans with unknown label {', '.join(sorted(unknown))} left out "
                f"(known: {', '.join(sorted({label.name for label in self.labels.values()}))})")})
        return found


def _store_imported_spans(pairs: list[tuple[int, list]]) -> None:
    """The file's own pre-annotations (article id → its mentions), as suggestions the analyst
    confirms or rejects; the pre-tagger keeps them and suggests nothing over them."""
    from annotation.models import Mention

    mentions = []
    for article_id, found in pairs:
        for mention in found:
            mention.article_id = article_id
            mentions.append(mention)
    Mention.objects.bulk_create(mentions)


def store_confirmed(batch: ImportBatch, rows: list[Row], *, by=None) -> ImportBatch:
    """An annotated corpus (the gold shape): every good row's spans stored as confirmed mentions,
    linked and learnt from, with its claims and links; nothing to pre-tag. One transaction: a
    corpus of decisions goes in whole or not at all."""
    from annotation import claim_import

    labels = _labels()
    for row in rows:
        unknown = sorted({label for _, _, label in row.spans} - labels.keys())
        if unknown and not row.error:
            row.error = f"unknown label {', '.join(unknown)} (known: {', '.join(labels)})"
        if row.error:
            batch.errors.append({"file": row.file, "row": row.number, "error": row.error})
    batch.errors += claim_import.check_rows(rows)
    good = [row for row in rows if not row.error]
    batch.failed, batch.rows = len(batch.errors), len(rows)
    with transaction.atomic():
        articles, spans = [], {}  # spans: text hash → the row's spans
        sources = _sources({row.source for row in good if row.source})
        for row in good:
            article = Article(title=row.title, byline=row.byline, url=row.url, published=row.published,
                              text=row.text, source=sources.get(row.source), batch=batch,
                              status=Article.Status.SUBMITTED)
            article.derive_from_text()
            if article.text_hash in spans:
                batch.duplicates += 1
                continue
            spans[article.text_hash] = row.spans
            articles.append(article)
        existing = set(Article.objects.filter(text_hash__in=spans).values_list("text_hash", flat=True))
        batch.duplicates += len(existing)
        articles = [article for article in articles if article.text_hash not in existing]
        batch.status = (ImportBatch.Status.READY if articles or batch.duplicates or not batch.failed
                        else ImportBatch.Status.FAILED)
        batch.finished_at = timezone.now()
        batch.save()
        Article.objects.bulk_create(articles)
        batch.stored = len(articles)
        batch.save(update_fields=["stored"])
        Article.objects.filter(batch=batch).index_for_search()  # nothing to pre-tag: index now
        flush_search_index()
        for article in articles:
            _store_decisions(article, spans[article.text_hash], labels, by=by)
        claim_import.store_claims(good, by=by)
    return batch


def _labels() -> dict:
    from annotation.models import Label

    return {label.name: label for label in Label.objects.all()}


def _store_decisions(article: Article, spans: list[tuple[int, int, str]], labels: dict, *, by) -> None:
    """Confirmed mentions as if an analyst had marked them, with their links and what they teach."""
    from annotation import learning, linking
    from annotation.models import Event, Mention

    mentions = Mention.objects.bulk_create(
        Mention(article=article, start=start, end=end, text=article.text[start:end],
                label=labels[label], origin=Mention.Origin.ANALYST, status=Mention.Status.CONFIRMED,
                decided_by=by)
        for start, end, label in spans)
    Event.record("article.import_confirmed", article, article=article, actor=by,
                 after={"status": article.status, "mentions": len(mentions)})
    for mention in mentions:
        learning.record(mention, Mention.Status.CONFIRMED)
        linking.link(mention, by=by, article_mentions=mentions)


def _sources(names: set[str]) -> dict[str, Source]:
    found = {source.name: source for source in Source.objects.filter(name__in=names)}
    missing = [Source(name=name) for name in names - found.keys()]
    for source in Source.objects.bulk_create(missing):
        found[source.name] = source
    return found


def enqueue_pretagging(article_ids: list[int], *, retag: bool = False) -> int:
    """Enqueue pre-tagging in chunks once the articles are committed; returns how many messages."""
    from annotation.tasks import pretag_articles

    chunks = [article_ids[i:i + PRETAG_CHUNK] for i in range(0, len(article_ids), PRETAG_CHUNK)]
    for chunk in chunks:
        transaction.on_commit(partial(pretag_articles.send, chunk, retag))
    return len(chunks)
