import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from corpus import formats, importing
from corpus.models import ImportBatch

WORKER_HINT_AFTER = 10  # seconds a batch may wait before we say no worker seems to be running


class Command(BaseCommand):
    help = ("Import articles from .txt, .jsonl, .json, .csv, .html and .zip files as one import "
            "batch: the workers store and pre-tag it while this command shows the progress.")

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
        parser.add_argument("--sync", action="store_true",
                            help="store the articles in this process instead of a worker (their "
                                 "pre-tagging still goes to the workers)")
        parser.add_argument("--no-wait", action="store_true",
                            help="return once the batch is queued (or, with --sync, stored) "
                                 "instead of following the workers until it is ready")
        parser.add_argument("--confirmed", action="store_true",
                            help="the rows' spans are decisions already taken (gold-shaped JSONL): "
                                 "store them as confirmed mentions and learn from them (spans with "
                                 "status rejected are left out); store the rows' claims (with their "
                                 "status, speaker, cue, credibility) and the links inside them, "
                                 "matched by article text_hash and claim span, as "
                                 "`export_annotations --format jsonl` writes them. Claims and links "
                                 "already stored are skipped. Runs in this process (nothing to "
                                 "pre-tag)")

    def handle(self, *args, paths: list[Path], sync=False, no_wait=False, confirmed=False, **options):
        missing = [str(path) for path in paths if not path.is_file()]
        if missing:
            raise CommandError(f"No such file: {', '.join(missing)}")
        too_big = [f"{path} ({path.stat().st_size // 2**20} MB)" for path in paths
                   if path.stat().st_size > formats.MAX_FILE_BYTES]
        if too_big:
            raise CommandError(f"Larger than the {formats.MAX_FILE_BYTES // 2**20} MB limit: "
                               f"{', '.join(too_big)}")
        if sync or confirmed:
            with tqdm(unit="row", desc="Storing", file=self.stderr) as bar:
                batch = importing.import_files(paths, confirmed=confirmed,
                                               progress=lambda b: bar.update(b.rows - bar.n))
        else:
            batch = importing.start_import((path.name, path.read_bytes()) for path in paths)
            self.stdout.write(f"Import batch {batch.pk} queued.")
            if no_wait:
                self.stdout.write("A worker (`make worker`) stores and pre-tags it; "
                                  f"`pretag --batch {batch.pk}` follows it.")
                return
            batch = self.follow_storing(batch)
        self.report(batch)
        if batch.stored and not confirmed and not no_wait:
            self.follow_pretagging(batch)

    def follow_storing(self, batch: ImportBatch) -> ImportBatch:
        waited, hinted = time.monotonic(), False
        with tqdm(unit="row", desc="Storing", file=self.stderr) as bar:
            while batch.status in (ImportBatch.Status.PENDING, ImportBatch.Status.STORING):
                time.sleep(0.3)
                batch.refresh_from_db()
                bar.update(batch.rows - bar.n)
                if (batch.status == ImportBatch.Status.PENDING and not hinted
                        and time.monotonic() - waited > WORKER_HINT_AFTER):
                    bar.write("No worker has picked the batch up yet: is one running (`make worker`)?")
                    hinted = True
        return batch

    def follow_pretagging(self, batch: ImportBatch) -> None:
        self.stdout.write("Following the pre-tagging (Ctrl-C stops watching; the workers carry on).")
        with tqdm(total=batch.stored, unit="article", desc="Pre-tagging", file=self.stderr) as bar:
            try:
                while batch.status == ImportBatch.Status.STORED:
                    bar.update(batch.articles.exclude(status="new").count() - bar.n)
                    time.sleep(0.5)
                    batch.refresh_from_db()
                bar.update(bar.total - bar.n)
            except KeyboardInterrupt:
                self.stdout.write("\nStopped watching; the workers carry on.")
                return
        self.stdout.write(self.style.SUCCESS(f"Import batch {batch.pk} is ready."))

    def report(self, batch: ImportBatch) -> None:
        for problem in batch.errors:
            self.stderr.write(_where(problem) + problem["error"])
        for problem in batch.warnings:
            self.stderr.write(_where(problem) + "warning: " + problem["error"])
        self.stdout.write(self.style.SUCCESS(
            f"Import batch {batch.pk}: {batch.stored} stored, {batch.duplicates} duplicate, "
            f"{batch.failed} failed."))
        if batch.stored and batch.confirmed:
            self.stdout.write("Their spans are stored as confirmed mentions and learnt from.")
        if batch.status == ImportBatch.Status.FAILED:
            raise CommandError("Nothing could be imported.")


def _where(problem: dict) -> str:
    place = importing.where(problem)
    return place["file"] + (f", {place['place']}" if place["place"] else "") + ": "
