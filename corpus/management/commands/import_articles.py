from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from corpus import importing


class Command(BaseCommand):
    help = "Store articles from .txt files (first line the title) and .jsonl files, and enqueue their pre-tagging."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
        parser.add_argument("--confirmed", action="store_true",
                            help="the rows' spans are decisions already taken (gold-shaped JSONL): "
                                 "store them as confirmed mentions and learn from them (spans with "
                                 "status rejected are left out); store the rows' claims (with their "
                                 "status, speaker, cue, credibility) and the links inside them, "
                                 "matched by article text_hash and claim span, as "
                                 "`export_annotations --format jsonl` writes them. Claims and links "
                                 "already stored are skipped")

    def handle(self, *args, paths: list[Path], confirmed: bool = False, **options):
        missing = [str(path) for path in paths if not path.is_file()]
        if missing:
            raise CommandError(f"No such file: {', '.join(missing)}")
        batch = importing.import_files(paths, confirmed=confirmed)
        for error in batch.errors:
            where = error["file"] + (f", line {error['row']}" if error["row"] else "")
            self.stderr.write(f"{where}: {error['error']}")
        self.stdout.write(self.style.SUCCESS(
            f"Import batch {batch.pk}: {batch.stored} stored, {batch.duplicates} duplicate, "
            f"{batch.failed} failed."))
        if batch.stored and confirmed:
            self.stdout.write("Their spans are stored as confirmed mentions and learnt from.")
        elif batch.stored:
            self.stdout.write("Pre-tagging is queued; a worker (`make worker`) picks it up.")
        if batch.failed and not batch.stored and not batch.duplicates:
            raise CommandError("Nothing could be imported.")
