import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from annotation import extraction
from annotation.models import Event
from corpus import importing
from corpus.models import Article


class Command(BaseCommand):
    help = ("Pre-tag articles with spaCy: by default every untagged article, through the workers; "
            "--sync runs it here instead.")

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--article", type=int, action="append", metavar="ID",
                           help="an article id (repeatable)")
        which.add_argument("--batch", type=int, metavar="ID", help="every article of an import batch")
        which.add_argument("--untouched", action="store_true",
                           help="pre-tag again every article nobody has started on, with what the "
                                "analysts taught since")
        parser.add_argument("--retag", action="store_true",
                            help="pre-tag again articles already pre-tagged (decided mentions are kept)")
        parser.add_argument("--sync", action="store_true", help="run here, not in the workers")
        parser.add_argument("--no-wait", action="store_true",
                            help="enqueue and return without following the workers' progress")

    def handle(self, *args, article=None, batch=None, untouched=False, retag=False, sync=False,
               no_wait=False, **options):
        articles = Article.objects.order_by("pk")
        if article:
            articles = articles.filter(pk__in=article)
            missing = set(article) - set(articles.values_list("pk", flat=True))
            if missing:
                raise CommandError(f"No article with id {', '.join(map(str, sorted(missing)))}")
            retag = True  # naming an article means: tag it now, whatever its status
        elif batch is not None:
            articles = articles.filter(batch_id=batch)
            if not articles.exists():
                raise CommandError(f"Import batch {batch} has no articles (or does not exist)")
        elif untouched:
            articles = articles.filter(status=Article.Status.PRETAGGED)
            retag = True
        if not retag:
            articles = articles.untagged()
        ids = list(articles.values_list("pk", flat=True))
        if not ids:
            self.stdout.write("Nothing to pre-tag: every article is pre-tagged (use --retag to redo).")
            return
        if sync:
            self.run_here(ids)
        else:
            self.enqueue(ids, retag=retag, wait=not no_wait)

    def run_here(self, ids: list[int]) -> None:
        nlp = extraction.get_nlp()
        suggestions = 0
        with tqdm(total=len(ids), unit="article", desc="Pre-tagging", file=self.stderr) as bar:
            for start in range(0, len(ids), importing.PRETAG_CHUNK):
                chunk = list(Article.objects.filter(pk__in=ids[start:start + importing.PRETAG_CHUNK])
                             .order_by("pk"))
                suggestions += extraction.pretag_many(chunk, nlp=nlp)
                bar.update(len(chunk))
        self.stdout.write(self.style.SUCCESS(f"Pre-tagged {len(ids)} articles: {suggestions} suggestions."))

    def enqueue(self, ids: list[int], *, retag: bool, wait: bool) -> None:
        since = timezone.now()
        with transaction.atomic():
            messages = importing.enqueue_pretagging(ids, retag=retag)
        self.stdout.write(f"Enqueued {len(ids)} articles in {messages} message{'s' * (messages != 1)}.")
        if not wait:
            return
        self.stdout.write("Following the workers (Ctrl-C stops watching; the jobs stay queued).")
        done_events = Event.objects.filter(action="article.pretag", subject_type="article",
                                           subject_id__in=ids, created_at__gte=since)
        with tqdm(total=len(ids), unit="article", desc="Pre-tagging", file=self.stderr) as bar:
            try:
                while bar.n < len(ids):
                    done = done_events.values("subject_id").distinct().count()
                    bar.update(done - bar.n)
                    if bar.n < len(ids):
                        time.sleep(0.5)
            except KeyboardInterrupt:
                self.stdout.write("\nStopped watching; the workers carry on.")
