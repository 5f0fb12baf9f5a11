import csv
import json

from django.core.management.base import BaseCommand, CommandError

from annotation import exporting
from corpus.models import Article

FORMATS = {
    "jsonl": "one line per article in the shape of the gold seeds.jsonl (text, spans, claims "
             "with status and links); `import_articles --confirmed` reads it back",
    "jsonld": "one W3C Web Annotation JSON-LD document (an AnnotationCollection) of every "
              "mention and claim",
    "claims-jsonl": "one line per claim with its sources (speaker, article and outlet, links)",
    "claims-csv": "one CSV row per claim and source",
}


class Command(BaseCommand):
    help = ("Write annotations: " + "; ".join(f"{name}: {what}" for name, what in FORMATS.items())
            + ". Articles are named by text_hash, so an export reads into another database.")

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=list(FORMATS), default="jsonl",
                            help="jsonl (default), jsonld, claims-jsonl or claims-csv")
        parser.add_argument("--output", "-o", metavar="PATH", help="file to write (default: stdout)")
        parser.add_argument("--status", action="append", choices=Article.Status.values,
                            help="only articles in this status (repeatable)")
        parser.add_argument("--base-url", metavar="URL", default="",
                            help="jsonld only: target the articles' pages in the app at this URL "
                                 "(e.g. https://sourcemark.internal) instead of urn:sourcemark:… names")

    def handle(self, *args, output=None, status=None, base_url="", **options):
        format_ = options["format"]
        if base_url and format_ != "jsonld":
            raise CommandError("--base-url only applies to --format jsonld.")
        if base_url and not base_url.startswith(("http://", "https://")):
            raise CommandError(f"--base-url must start with http:// or https://, not {base_url!r}.")
        articles = Article.objects.filter(status__in=status) if status else Article.objects.all()
        try:
            stream = open(output, "w", encoding="utf-8", newline="") if output else self.stdout
        except OSError as error:
            raise CommandError(f"Cannot write {output}: {error.strerror}") from None
        try:
            count, what = self._write(stream, format_, articles, base_url)
        finally:
            if output:
                stream.close()
        if output:
            self.stderr.write(f"Wrote {count} {what} to {output}.")

    def _write(self, stream, format_: str, articles, base_url: str) -> tuple[int, str]:
        count = 0
        if format_ == "jsonl":
            for line in exporting.gold_shaped(articles):
                stream.write(json.dumps(line, ensure_ascii=False) + "\n")
                count += 1
            return count, "articles"
        if format_ == "claims-jsonl":
            for line in exporting.claims_with_sources(articles):
                stream.write(json.dumps(line, ensure_ascii=False) + "\n")
                count += 1
            return count, "claims"
        if format_ == "claims-csv":
            writer = csv.DictWriter(stream, fieldnames=exporting.CSV_COLUMNS, lineterminator="\r\n")
            writer.writeheader()
            for row in exporting.claim_source_rows(articles):
                writer.writerow({column: _spreadsheet_safe(value) for column, value in row.items()})
                count += 1
            return count, "claim–source rows"
        for piece in exporting.web_annotation_document(articles, base_url=base_url):
            stream.write(piece)
            count += 1
        return max(count - 2, 0), "annotations"


def _spreadsheet_safe(value):
    """A cell a spreadsheet would run as a formula (=, +, -, @, a tab or a carriage return first)
    gets a leading apostrophe: quoted text from the news must never execute when the CSV opens."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
