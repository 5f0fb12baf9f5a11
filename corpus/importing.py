"""Storing articles from files: parse, validate, normalise, deduplicate, insert, enqueue pre-tagging.

A first, simple importer (issue 2): `.txt` (first line the title) and `.jsonl` (one object a line:
`text`, optional `title`, `url`, `source`, `published`). Bad rows are reported one by one and
never stop the good ones; the rows of one batch are stored in one transaction, so a failure
leaves nothing half-written.
"""

from functools import partial
from pathlib import Path

from django.db import transaction

from corpus.formats import Row, UnreadableFile, parse_file
from corpus.models import Article, ImportBatch, Source

PRETAG_CHUNK = 16


def import_files(paths: list[Path], *, by=None, confirmed: bool = False) -> ImportBatch:
    """Store every good row of the files as one batch and enqueue their pre-tagging.

    With `confirmed`, the rows' spans are stored as decisions already taken (an annotated corpus
    in the gold shape): confirmed mentions, linked to entities, learnt from; no pre-tagging."""
    batch = ImportBatch(created_by=by, files=[path.name for path in paths])
    rows: list[Row] = []
    for path in paths:
        try:
            rows.extend(parse_file(path))
        except (UnreadableFile, OSError) as error:
            message = str(error) if isinstance(error, UnreadableFile) else f"{path.name}: {error.strerror}"
            batch.errors.append({"file": path.name, "row": None, "error": message})
    return store_rows(batch, rows, confirmed=confirmed, by=by)


def store_rows(batch: ImportBatch, rows: list[Row], *, confirmed: bool = False, by=None) -> ImportBatch:
    labels = _labels()
    for row in rows:
        unknown = sorted({label for _, _, label in row.spans} - labels.keys())
        if unknown and not row.error:
            row.error = f"unknown label {', '.join(unknown)} (known: {', '.join(labels)})"
        if row.error:
            batch.errors.append({"file": row.file, "row": row.number, "error": row.error})
    if confirmed:
        from annotation import claim_import

        batch.errors += claim_import.check_rows(rows)
    good = [row for row in rows if not row.error]
    batch.failed = len(batch.errors)
    with transaction.atomic():
        batch.save()
        articles, spans = [], {}  # spans: text hash → the row's pre-annotated spans
        sources = _sources({row.source for row in good if row.source})
        status = Article.Status.SUBMITTED if confirmed else Article.Status.NEW
        for row in good:
            article = Article(title=row.title, url=row.url, published=row.published, text=row.text,
                              source=sources.get(row.source), batch=batch, status=status)
            article.derive_from_text()
            if article.text_hash in spans:
                batch.duplicates += 1
                continue
            spans[article.text_hash] = row.spans
            articles.append(article)
        existing = set(Article.objects.filter(text_hash__in=spans).values_list("text_hash", flat=True))
        batch.duplicates += len(existing)
        articles = [article for article in articles if article.text_hash not in existing]
        Article.objects.bulk_create(articles)
        batch.stored = len(articles)
        batch.status = ImportBatch.Status.STORED
        batch.save()
        if confirmed:
            for article in articles:
                _store_decisions(article, spans[article.text_hash], labels, by=by)
            claim_import.store_claims(good, by=by)
        else:
            enqueue_pretagging([article.pk for article in articles])
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
