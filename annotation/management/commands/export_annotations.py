import functools
import os
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation import exporting
from corpus.models import Article

FORMATS = {name: format_.description for name, format_ in exporting.FORMATS.items()}
STDOUT = "-"
MISALIGNED_SHOWN = 20  # spans listed on stderr; the rest are counted


class Command(BaseCommand):
    help = ("Write annotations: " + "; ".join(f"{name}: {what}" for name, what in FORMATS.items())
            + ". Articles are named by text_hash, so an export reads into another database.")

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=list(FORMATS), default="jsonl",
                            help="jsonl (default), jsonld, claims-jsonl, claims-csv, spacy, prodigy "
                                 "or csv")
        parser.add_argument("--output", "-o", metavar="PATH",
                            help="file to write (default: stdout; '-' is stdout too). spacy: "
                                 "FILE.spacy writes one DocBin (held in memory whole), any other "
                                 "PATH is a directory of part-0001.spacy, … (`spacy train` reads "
                                 "the directory), and '-' writes one DocBin to stdout; spacy never "
                                 "writes binary to stdout unless given '-o -'")
        parser.add_argument("--status", action="append", choices=["all", *Article.Status.values],
                            help="only articles in this status (repeatable); 'all' for every "
                                 "article. Default: approved for spacy, prodigy and csv (approved "
                                 "annotations), every article for the other formats")
        parser.add_argument("--shard-size", type=int, metavar="N", default=None,
                            help="spacy to a directory: documents per part-NNNN.spacy file "
                                 "(default 1000)")
        parser.add_argument("--base-url", metavar="URL", default="",
                            help="jsonld only: target the articles' pages in the app at this URL "
                                 "(e.g. https://sourcemark.internal) instead of urn:sourcemark:… names")

    def handle(self, *args, output=None, status=None, base_url="", shard_size=None, **options):
        format_ = exporting.FORMATS[options["format"]]
        if base_url and format_.name != "jsonld":
            raise CommandError("--base-url only applies to --format jsonld.")
        if base_url and not base_url.startswith(("http://", "https://")):
            raise CommandError(f"--base-url must start with http:// or https://, not {base_url!r}.")
        if shard_size is not None and format_.name != "spacy":
            raise CommandError("--shard-size only applies to --format spacy.")
        if shard_size is not None and shard_size < 1:
            raise CommandError(f"--shard-size must be 1 or more, not {shard_size}.")
        articles = _articles(status, approved_only=format_.approved_only)
        misaligned: list[exporting.Misaligned] = []
        if format_.name == "spacy":
            count, where = self._write_spacy(articles, output, shard_size or 1000, misaligned)
        else:
            count, where = self._write_text(format_, articles, output, base_url, misaligned)
        if where:
            self.stderr.write(f"Wrote {count} {format_.unit} to {where}.")
        self._report(misaligned)

    def _write_text(self, format_: exporting.Format, articles, output: str | None, base_url: str,
                    misaligned: list) -> tuple[int, str | None]:
        to_file = output not in (None, STDOUT)
        try:
            stream = open(output, "w", encoding="utf-8", newline="") if to_file else self.stdout
        except OSError as error:
            raise CommandError(f"Cannot write {output}: {error.strerror}") from None
        # Django's stdout wrapper would add a newline to a piece without one.
        write = stream.write if to_file else functools.partial(stream.write, ending="")
        count = 0
        try:
            for piece in exporting.text_pieces(format_.name, articles, base_url=base_url,
                                               misaligned=misaligned):
                write(piece)
                count += 1
        finally:
            if to_file:
                stream.close()
        # A CSV's header, and jsonld's opening and closing, are not records.
        framing = {"claims-csv": 1, "csv": 1, "jsonld": 2}.get(format_.name, 0)
        return max(count - framing, 0), output if to_file else None

    def _write_spacy(self, articles, output: str | None, shard_size: int,
                     misaligned: list) -> tuple[int, str | None]:
        if output is None:
            raise CommandError("--format spacy writes binary: give -o FILE.spacy (one file), "
                               "-o DIR (a directory of part-0001.spacy, …) or -o - (stdout).")
        docs = exporting.spacy_docs(articles, misaligned=misaligned)
        if output == STDOUT:
            [doc_bin] = exporting.docbin_shards(docs)
            binary = getattr(self.stdout._out, "buffer", self.stdout._out)
            binary.write(doc_bin.to_bytes())
            binary.flush()
            return len(doc_bin), None
        path = Path(output)
        if path.suffix == ".spacy":
            [doc_bin] = exporting.docbin_shards(docs)
            _replace_atomically(path, doc_bin.to_bytes())
            return len(doc_bin), output
        count, shards = _write_shards(docs, path, shard_size)
        return count, f"{output} ({shards} file{'s' if shards != 1 else ''} of up to {shard_size})"

    def _report(self, misaligned: list) -> None:
        """Spans that are not on token edges: widened (or left out), never dropped silently."""
        if not misaligned:
            return
        left_out = sum(1 for item in misaligned if item.used is None)
        self.stderr.write(f"{len(misaligned)} span{'s' if len(misaligned) != 1 else ''} did not fall "
                          f"on token edges: {len(misaligned) - left_out} widened to whole tokens, "
                          f"{left_out} left out.")
        for item in misaligned[:MISALIGNED_SHOWN]:
            self.stderr.write(f"  {item}")
        if len(misaligned) > MISALIGNED_SHOWN:
            self.stderr.write(f"  … and {len(misaligned) - MISALIGNED_SHOWN} more.")


def _articles(status: list[str] | None, *, approved_only: bool):
    """The articles in the statuses asked for; none asked: approved ones for the formats that
    export approved annotations, every article for the others."""
    if not status:
        status = [Article.Status.APPROVED] if approved_only else ["all"]
    if "all" in status:
        return Article.objects.all()
    return Article.objects.filter(status__in=status)


def _replace_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: never a half-written file."""
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.")
    except OSError as error:
        raise CommandError(f"Cannot write {path}: {error.strerror}") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise CommandError(f"Cannot write {path}: {error.strerror}") from None


def _write_shards(docs, directory: Path, shard_size: int) -> tuple[int, int]:
    """part-0001.spacy, … in `directory` (created if missing). A directory that already holds
    .spacy files is refused: `spacy train` would read the old ones along with the new. If the
    export fails half-way, the shards it wrote are removed."""
    if directory.exists() and not directory.is_dir():
        raise CommandError(f"{directory} is a file: give FILE.spacy for one file, or a directory.")
    if directory.is_dir() and any(directory.rglob("*.spacy")):
        raise CommandError(f"{directory} already holds .spacy files, which `spacy train` would read "
                           "along with the new ones: empty it or choose another directory.")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CommandError(f"Cannot write {directory}: {error.strerror}") from None
    written: list[Path] = []
    count = 0
    try:
        for number, doc_bin in enumerate(exporting.docbin_shards(docs, shard_size=shard_size), start=1):
            path = directory / exporting.shard_name(number)
            path.write_bytes(doc_bin.to_bytes())
            written.append(path)
            count += len(doc_bin)
    except BaseException as error:
        for path in written:
            path.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise CommandError(f"Cannot write {directory}: {error.strerror}") from None
        raise
    return count, len(written)

