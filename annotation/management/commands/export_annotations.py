import json
import sys

from django.core.management.base import BaseCommand, CommandError

from annotation import exporting
from corpus.models import Article


class Command(BaseCommand):
    help = "Write annotations, one JSON object per article in the shape of the gold seeds.jsonl."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["jsonl"], default="jsonl")
        parser.add_argument("--output", "-o", metavar="PATH", help="file to write (default: stdout)")
        parser.add_argument("--status", action="append", choices=Article.Status.values,
                            help="only articles in this status (repeatable)")

    def handle(self, *args, output=None, status=None, **options):
        articles = Article.objects.filter(status__in=status) if status else Article.objects.all()
        try:
            stream = open(output, "w", encoding="utf-8") if output else sys.stdout
        except OSError as error:
            raise CommandError(f"Cannot write {output}: {error.strerror}") from None
        count = 0
        try:
            for line in exporting.gold_shaped(articles):
                stream.write(json.dumps(line, ensure_ascii=False) + "\n")
                count += 1
        finally:
            if output:
                stream.close()
        if output:
            self.stderr.write(f"Wrote {count} articles to {output}.")
