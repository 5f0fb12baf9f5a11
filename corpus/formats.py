"""Reading import files into rows: one Row per article, or a Row that carries what is wrong.

`parse_file(path)` (or `parse_bytes(data, name=...)` for an upload held in memory) reads
.txt, .jsonl, .json, .csv, .html/.htm and .zip files and never raises for bad content: a whole
file that cannot be read comes out as one Row with `number=None` and `error` set, a bad line or
row as a Row with its number and `error`, and the good rows around it still come out. Messages
leave out the file name (it is in `Row.file`) and say what is wrong and what to do.

No database and no Django models here: `importing.py` stores the rows, maps span labels and
checks claims against what is stored.
"""

import codecs
import csv
import datetime
import io
import json
import lzma
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from itertools import islice
from pathlib import Path


def _setting(name: str, default: int) -> int:
    """SOURCEMARK_IMPORT_<name> from Django settings when they are already loaded, else the
    default. Never loads them: loading config.settings starts the embedded database, which a
    script reading files (bench/corpus.py) must not do."""
    try:
        from django.conf import settings
    except ImportError:
        return default
    return int(getattr(settings, f"SOURCEMARK_IMPORT_{name}", default)) if settings.configured else default


MB = 1024 * 1024
MAX_FILE_BYTES = _setting("MAX_FILE_BYTES", 50 * MB)  # one file, or one member of a zip
MAX_ARCHIVE_BYTES = _setting("MAX_ARCHIVE_BYTES", 200 * MB)  # all members of a zip, expanded
MAX_ZIP_ENTRIES = _setting("MAX_ZIP_ENTRIES", 20_000)
MAX_COMPRESSION_RATIO = _setting("MAX_COMPRESSION_RATIO", 100)
# Small members compress well for innocent reasons (a run of spaces); the ratio is checked only
# for members that expand beyond this.
RATIO_CHECK_BYTES = _setting("RATIO_CHECK_BYTES", 8 * 1024)

# Field lengths of corpus.models.Article and Source (not imported: no models here).
TITLE_LENGTH, BYLINE_LENGTH, URL_LENGTH, SOURCE_LENGTH = 500, 300, 1000, 200

SAVE_AS_UTF8 = "save it as UTF-8 and import it again"


class UnreadableFile(Exception):
    """A whole file cannot be read (as opposed to one bad row in it)."""


@dataclass
class Row:
    file: str
    number: int | None  # line, array item or CSV row; None when the whole file is the problem
    text: str = ""
    title: str = ""
    url: str = ""
    source: str = ""
    published: datetime.date | None = None
    spans: list[tuple[int, int, str]] = field(default_factory=list)
    claims: list = field(default_factory=list)  # annotation.claim_import.RowClaim
    error: str = ""
    byline: str = ""
    encoding: str = ""  # as detected, for the report: "UTF-8", "UTF-16 LE", "Windows-1252", ...
    warnings: list[str] = field(default_factory=list)  # what did not stop the row


# =============================================================================================
# Entry points
# =============================================================================================

def parse_file(path: Path, *, name: str | None = None, claims: bool = True) -> Iterator[Row]:
    """The rows of one file; `name` is what reports call it (the upload's name), by default
    the path's. The type is chosen by the suffix of `name`. `claims=False` leaves pre-annotated
    claims out (with a warning) instead of reading them, which needs Django's models."""
    name = name or path.name
    if (problem := _unsupported(name)):
        yield _file_error(name, problem)
        return
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            yield _file_error(name, _too_large(size))
            return
        data = path.read_bytes()
    except OSError as error:
        yield _file_error(name, f"could not be read ({error.strerror or error})")
        return
    yield from parse_bytes(data, name=name, claims=claims)


def parse_bytes(data: bytes, *, name: str, claims: bool = True) -> Iterator[Row]:
    """The rows of a file held in memory (an upload), typed by the suffix of `name`."""
    if (problem := _unsupported(name)):
        yield _file_error(name, problem)
        return
    if len(data) > MAX_FILE_BYTES:
        yield _file_error(name, _too_large(len(data)))
        return
    try:
        yield from _READERS[_suffix(name)](data, name, claims)
    except UnreadableFile as error:
        yield _file_error(name, str(error))


def read_text_file(path: Path) -> str:
    """The text of a file in any encoding `decode` recognises; else UnreadableFile, naming it."""
    try:
        if (size := path.stat().st_size) > MAX_FILE_BYTES:
            raise UnreadableFile(_too_large(size))
        return decode(path.read_bytes())[0]
    except UnreadableFile as error:
        raise UnreadableFile(f"{path.name}: {error}") from None


def _suffix(name: str) -> str:
    """Path(name).suffix.lower(), without building a Path for each of 10,000 zip members."""
    base = name.replace("\\", "/").rpartition("/")[2]
    dot = base.rfind(".")
    return base[dot:].lower() if 0 < dot < len(base) - 1 else ""


def _unsupported(name: str) -> str:
    suffix = _suffix(name)
    if suffix in _READERS:
        return ""
    return (f"unsupported file type {suffix or '(no suffix)'}; "
            f"import {', '.join(SUPPORTED_SUFFIXES)} files")


def _file_error(name: str, message: str) -> Row:
    return Row(file=name, number=None, error=message)


def _too_large(size: int) -> str:
    return (f"{_size(size)} is over the {_size(MAX_FILE_BYTES)} limit for one file; "
            "split it into smaller files and import those")


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < MB:
        return f"{size / 1024:.0f} KB"
    return f"{size / MB:.1f}".removesuffix(".0") + " MB"


# =============================================================================================
# Encodings
# =============================================================================================

_BOMS = [  # longest first: the UTF-32 LE mark begins with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "", "UTF-32"), (codecs.BOM_UTF32_BE, "", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8 with BOM"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16 LE"), (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16 BE"),
]
_MAGIC = [
    (b"%PDF-", "a PDF document"), (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"), (b"PK\x03\x04", "a zip archive or an Office document"),
    (b"\xd0\xcf\x11\xe0", "an old Office document"), (b"{\\rtf", "an RTF document"),
]


def decode(data: bytes, *, declared: str = "") -> tuple[str, str]:
    """(text, encoding name for the report). UTF-8 with or without a byte order mark, UTF-16
    with one or without (recognised by its NUL bytes), else the `declared` encoding (an HTML
    page's charset), else Windows-1252; UnreadableFile for anything else or binary content."""
    if any(data.startswith(magic) for magic, _ in _MAGIC):
        raise UnreadableFile(_not_text(data))
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            if not codec:
                raise UnreadableFile(f"{label} text, which is not supported; {SAVE_AS_UTF8}")
            return _checked(_decode_as(data[len(bom):], codec, label), label), label
    if b"\x00" in data:
        codec = _utf16_without_bom(data)
        if not codec:
            raise UnreadableFile(_not_text(data))
        label = "UTF-16 LE" if codec.endswith("le") else "UTF-16 BE"
        text = _checked(_decode_as(data, codec, label), label)
        if _CONTROL.search(text):  # a guess: binary bytes that happened to fit the pattern
            raise UnreadableFile(_not_text(data))
        return text, label
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    if (codec := _codec(declared)):
        label = codec.upper()
        return _checked(_decode_as(data, codec, label), label), label
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError as error:
        raise UnreadableFile(
            f"neither UTF-8 nor Windows-1252 text (byte 0x{data[error.start]:02X} at position "
            f"{error.start} means nothing in either); {SAVE_AS_UTF8}") from None


_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _decode_as(data: bytes, codec: str, label: str) -> str:
    try:
        return data.decode(codec)
    except LookupError:  # a declared "charset" that is no text encoding (rot13, base64)
        raise UnreadableFile(f"the declared charset {label} is not a text encoding; "
                             f"{SAVE_AS_UTF8}") from None
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"not valid {label} text (at byte {error.start}); {SAVE_AS_UTF8}") from None


def _checked(text: str, label: str) -> str:
    if "\x00" in text:
        raise UnreadableFile(f"not a text file (it holds NUL characters as {label}); "
                             "export the article as plain text (UTF-8) and import that")
    return text


def _utf16_without_bom(data: bytes) -> str:
    """'utf-16-le' or 'utf-16-be' when the NUL bytes sit at every other position, as the
    high bytes of Latin text (and of the spaces and digits of any text) do."""
    if len(data) % 2:
        return ""
    sample = data[:8192]
    pairs = len(sample) // 2
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd * 10 >= pairs and even * 50 <= odd:
        return "utf-16-le"
    if even * 10 >= pairs and odd * 50 <= even:
        return "utf-16-be"
    return ""


def _not_text(data: bytes) -> str:
    kind = next((kind for magic, kind in _MAGIC if data.startswith(magic)), "")
    return (f"not a text file{f' (it looks like {kind})' if kind else ''}; "
            "export the article as plain text (UTF-8) and import that")


def _codec(name: str) -> str:
    """Python's name for a declared charset; "" for an unknown one, and for those the
    UTF-8-then-Windows-1252 reading covers (browsers read Latin-1 and ASCII as Windows-1252;
    they ignore a declared UTF-16, as the bytes are ASCII-compatible)."""
    try:
        codec = codecs.lookup(name).name if name else ""
    except LookupError:
        return ""
    return "" if codec in ("iso8859-1", "ascii", "cp1252") or codec.startswith("utf") else codec


# =============================================================================================
# .txt
# =============================================================================================

def _txt_rows(data: bytes, name: str, claims: bool) -> Iterator[Row]:
    text, encoding = decode(data)
    row = Row(file=name, number=1, text=text, title=_first_line(text), encoding=encoding)
    if not text.strip():
        row.error = "the file is empty" if not text else "the file holds only spaces and blank lines"
    yield row


# =============================================================================================
# .jsonl and .json (Prodigy, doccano, and this app's own gold shape)
# =============================================================================================

def _jsonl_rows(data: bytes, name: str, claims: bool) -> Iterator[Row]:
    text, encoding = decode(data)
    if text.lstrip().startswith("["):  # a JSON array saved as .jsonl
        try:
            items = json.loads(text)
        except (ValueError, RecursionError):
            items = None
        if isinstance(items, list):
            yield from _json_items(items, name, encoding, claims)
            return
    found = False
    # Split on "\n" only: str.splitlines also splits on U+2028 and friends, which JSON allows
    # raw inside strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        found = True
        row = Row(file=name, number=number, encoding=encoding)
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            row.error = f"not valid JSON ({error.msg} at column {error.colno})"
        except (ValueError, RecursionError) as error:  # an integer of 5,000 digits; [[[[...]]]]
            row.error = f"not valid JSON ({_reason(error)})"
        else:
            row.error = _fill_row(row, item, "each line", claims)
        yield row
    if not found:
        raise UnreadableFile("the file is empty; it should hold one JSON object a line")


def _json_rows(data: bytes, name: str, claims: bool) -> Iterator[Row]:
    text, encoding = decode(data)
    if not text.strip():
        raise UnreadableFile("the file is empty; it should hold a JSON array of objects")
    try:
        items = json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableFile(f"not valid JSON ({error.msg} at line {error.lineno}, column "
                             f"{error.colno}); nothing in it was imported") from None
    except (ValueError, RecursionError) as error:
        raise UnreadableFile(f"not valid JSON ({_reason(error)}); nothing in it was imported") from None
    if isinstance(items, dict):
        items = [items]  # one article
    if not isinstance(items, list):
        raise UnreadableFile("not a JSON array of objects; the file should hold [{\"text\": ...}, ...]")
    if not items:
        raise UnreadableFile("the JSON array is empty")
    yield from _json_items(items, name, encoding, claims)


def _reason(error: Exception) -> str:
    return "nested too deeply" if isinstance(error, RecursionError) else str(error).split(";")[0]


def _json_items(items: list, name: str, encoding: str, claims: bool) -> Iterator[Row]:
    for number, item in enumerate(items, start=1):
        row = Row(file=name, number=number, encoding=encoding)
        row.error = _fill_row(row, item, "each item", claims)
        yield row


_METADATA = ("title", "url", "source", "byline")


def _fill_row(row: Row, data, what: str, read_claims: bool = True) -> str:
    """Copy one JSON object onto the row; returns an error message, or "" when it is valid.
    Metadata is read at the top level or inside "meta" (doccano, Prodigy); the top level wins."""
    if not isinstance(data, dict):
        return f"{what} must be a JSON object"
    meta = data.get("meta")
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        return '"meta" must be a JSON object'

    def value(key: str):
        found = data.get(key)
        return meta.get(key) if found is None or found == "" else found

    text = data.get("text")
    if not isinstance(text, str):
        return 'missing "text" (a string)'
    if not text.strip():
        return '"text" is empty'
    row.text = text
    for name in _METADATA:
        found = value(name) or ""
        if not isinstance(found, str):
            return f'"{name}" must be a string'
        setattr(row, name, found.strip())
    row.title = row.title or _first_line(text)
    if (error := _fill_spans(row, data)):
        return error
    if (claims := data.get("claims")) is not None and not read_claims:
        row.warnings.append('its "claims" were left out: claims are imported only with '
                            "import_articles --confirmed")
    elif claims is not None:
        from annotation import claim_import  # needs Django's app registry: only when there are claims

        row.claims, error = claim_import.parse_claims(row.text, claims)
        if error:
            return error
    if (published := value("published")):
        try:
            row.published = _date(published)
        except ValueError:
            return f'"published" is not a date (YYYY-MM-DD): {published!r}'
    _fit(row)
    return ""


def _fill_spans(row: Row, data: dict) -> str:
    """Pre-annotated spans in any of three shapes, checked against the text (end exclusive)."""
    spans, error = _span_dicts(row, data)
    if error or not spans:
        return error
    for number, span in enumerate(spans, start=1):
        if span.get("status") == "rejected":
            continue  # an export's rejected suggestion: a decision against it, not for it
        start, end, label = _offset(span.get("start")), _offset(span.get("end")), span.get("label")
        if start is None or end is None or not isinstance(label, str) or not label.strip():
            return f'span {number} needs integer "start" and "end" and a "label"'
        if start == end and 0 <= start <= len(row.text):
            row.warnings.append(f"span {number} ({label} at {start}) is empty and was left out")
            continue
        if not 0 <= start < end <= len(row.text):
            return f"span {number} ({start}–{end}) lies outside the text"
        if "text" in span and span["text"] != row.text[start:end]:
            return (f'span {number}: "text" says {span["text"]!r} but the offsets hold '
                    f"{row.text[start:end]!r}")
        if (start, end, label.strip()) in row.spans:
            row.warnings.append(f"span {number} ({label} {start}–{end}) repeats an earlier one "
                                "and was left out")
            continue
        row.spans.append((start, end, label.strip()))
    row.spans.sort()
    for (_, end, _), (start, _, _) in zip(row.spans, row.spans[1:]):
        if start < end:
            return f"spans overlap at {start}"
    return ""


def _span_dicts(row: Row, data: dict) -> tuple[list[dict], str]:
    """Prodigy `spans` [{start, end, label}], doccano `entities` [{start_offset, end_offset,
    label}] or doccano `label` [[start, end, label]], as [{start, end, label, ...}]."""
    answer = data.get("answer")
    if answer in ("reject", "ignore") and (data.get("spans") or data.get("entities")):
        row.warnings.append(f'Prodigy answer is "{answer}": its spans were left out')
        return [], ""
    if (spans := data.get("spans")) is not None:
        if not isinstance(spans, list):
            return [], '"spans" must be a list'
        return [span if isinstance(span, dict) else {} for span in spans], ""
    if (entities := data.get("entities")) is not None:
        if not isinstance(entities, list):
            return [], '"entities" must be a list'
        return [{"start": entity.get("start_offset", entity.get("start")),
                 "end": entity.get("end_offset", entity.get("end")), "label": entity.get("label")}
                if isinstance(entity, dict) else {} for entity in entities], ""
    labels = data.get("label")
    if labels is None or labels == []:
        return [], ""
    if isinstance(labels, list) and all(isinstance(item, list) for item in labels):
        spans = []
        for number, item in enumerate(labels, start=1):
            if len(item) != 3:
                return [], f'label {number} must be [start, end, "LABEL"]'
            spans.append({"start": item[0], "end": item[1], "label": item[2]})
        return spans, ""
    # A document's category (doccano text classification, Prodigy textcat), not spans.
    row.warnings.append(f'the document label {labels!r} is not a span and was not imported')
    return [], ""


def _offset(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value) < 20:
        return int(value)  # "12": a spreadsheet's idea of a number; not "²", not 5,000 digits
    return None


# =============================================================================================
# .csv
# =============================================================================================

CSV_COLUMNS = ("title", "text", "url", "published", "source", "byline")
_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}


def _csv_lines(text: str) -> list[str]:
    """The lines with their ends, as csv wants them (open(..., newline="")): "\r\n" stays at the
    end of its line. Split on "\n" by hand, twice as fast as StringIO.readlines; a file of bare
    "\r" line ends (old Macs) is split on those."""
    separator = "\r" if "\n" not in text and "\r" in text else "\n"
    parts = text.split(separator)
    last = parts.pop()
    lines = [part + separator for part in parts]
    if last:
        lines.append(last)
    return lines


def _reader(lines: list[str], position: int, delimiter: str):
    """A csv reader from line `position` on; `position + reader.line_num` is the next line it
    reads, so a reader can start again where a bad row began (an unclosed quote)."""
    return csv.reader(islice(lines, position, None), delimiter=delimiter, strict=True)


def _csv_rows(data: bytes, name: str, claims: bool) -> Iterator[Row]:
    text, encoding = decode(data)
    lines = _csv_lines(text)
    first = next((number for number, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise UnreadableFile("the file is empty; it needs a header row with a \"text\" column")
    csv.field_size_limit(max(MAX_FILE_BYTES, 128 * 1024))  # an article is one field
    delimiter, columns, header_end = _csv_header(lines, first, text[:16 * 1024])
    if "text" not in columns:
        found = ", ".join(repr(column) for column in columns) or "none"
        raise UnreadableFile(
            f'no "text" column in the header row (found {found}; expected "text" and optionally '
            f'{", ".join(repr(c) for c in CSV_COLUMNS if c != "text")}); '
            "the first row must name the columns")
    width = len(columns)
    base = header_end
    reader = _reader(lines, base, delimiter)
    number = 1  # the header
    while True:
        start = base + reader.line_num
        problem = ""
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            record, problem = [], str(error)
        number += 1
        if not problem and not any(value.strip() for value in record):
            continue  # a blank row
        if not problem and _width_ok(record, width):
            yield _csv_row(record, columns, name, number, encoding)
            continue
        end = base + reader.line_num
        if end - start > 1 and _recoverable(lines[start + 1:end], delimiter, width):
            # A quote opened in this row and closed rows later (or never): read those rows again.
            base = start + 1
            reader = _reader(lines, base, delimiter)
            yield Row(file=name, number=number, encoding=encoding, error=(
                "a quote opened in this row is never closed, so the rows after it were read again "
                "on their own; put the whole field in double quotes and double any quote inside it"))
            continue
        if problem:
            message = (f"the quoting is broken ({problem}); a field with quotes inside must be "
                       'in double quotes, with each quote inside doubled ("")')
        else:
            message = (f"{len(record)} fields where the header has {width}; a field holding a "
                       f"{_DELIMITERS[delimiter]} must be in double quotes")
        yield Row(file=name, number=number, encoding=encoding, error=message)


def _csv_header(lines: list[str], first: int, sample: str) -> tuple[str, list[str], int]:
    """(delimiter, column names lowered and stripped, index of the line after the header).
    The sniffed delimiter first, then comma, semicolon, tab: the first that finds "text"."""
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(_DELIMITERS)).delimiter
    except csv.Error:
        sniffed = ","
    found = None
    for delimiter in dict.fromkeys([sniffed, *_DELIMITERS]):
        reader = _reader(lines, first, delimiter)
        try:
            header = next(reader)
        except csv.Error as error:
            raise UnreadableFile(f"the header row cannot be read ({error})") from None
        columns = [column.strip().lower() for column in header]
        if "text" in columns:
            return delimiter, columns, first + reader.line_num
        if found is None:
            found = (delimiter, columns, first + reader.line_num)
    return found


def _width_ok(record: list[str], width: int) -> bool:
    # Spreadsheets sometimes leave empty fields after the last column: harmless.
    return len(record) == width or (len(record) > width and not any(v.strip() for v in record[width:]))


def _recoverable(lines: list[str], delimiter: str, width: int) -> bool:
    """Whether the lines a bad row swallowed read as rows of the right width on their own."""
    good = bad = 0
    reader = _reader(lines, 0, delimiter)
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error:
            bad += 1
            continue
        if any(value.strip() for value in record):
            good, bad = (good + 1, bad) if _width_ok(record, width) else (good, bad + 1)
    return good > 0 and good >= 4 * bad


def _csv_row(record: list[str], columns: list[str], name: str, number: int, encoding: str) -> Row:
    values: dict[str, str] = {}
    for column, value in zip(columns, record):
        values.setdefault(column, value)
    row = Row(file=name, number=number, encoding=encoding, text=values["text"])
    if not row.text.strip():
        row.error = '"text" is empty'
        return row
    for key in _METADATA:
        setattr(row, key, values.get(key, "").strip())
    row.title = row.title or _first_line(row.text)
    if (published := values.get("published", "").strip()):
        try:
            row.published = _date(published)
        except ValueError:
            row.error = f'"published" is not a date (YYYY-MM-DD): {published!r}'
            return row
    _fit(row)
    return row


# =============================================================================================
# .html / .htm
# =============================================================================================

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
         "source", "track", "wbr"}
_DROPPED = {"script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
            "button", "svg", "iframe", "head", "title", "select", "textarea", "object", "canvas"}
_BLOCKS = {"address", "article", "blockquote", "caption", "dd", "details", "div", "dl", "dt",
           "fieldset", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hgroup", "hr",
           "li", "main", "ol", "p", "pre", "section", "summary", "table", "tbody", "thead",
           "tfoot", "tr", "ul", "br", "body", "html", "center", "menu", "dialog", "legend"}
_CLOSES_P = _BLOCKS - {"br", "body", "html", "caption", "dd", "dt", "li", "summary", "tbody",
                       "thead", "tfoot", "tr", "legend"}
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w:.-]+)""", re.IGNORECASE)


class _Element:
    __slots__ = ("tag", "attrs", "children", "parent")

    def __init__(self, tag: str, attrs: dict[str, str], parent: "_Element | None"):
        self.tag, self.attrs, self.children, self.parent = tag, attrs, [], parent


class _TreeBuilder(HTMLParser):
    """A forgiving tree: an end tag closes the nearest open element of its name (and whatever
    was left open inside it), and is ignored when none is open."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = _Element("#root", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _CLOSES_P and self.current.tag == "p" or tag == "li" and self.current.tag == "li":
            self.current = self.current.parent
        element = _Element(tag, {key: value or "" for key, value in attrs}, self.current)
        self.current.children.append(element)
        if tag not in _VOID:
            self.current = element

    def handle_endtag(self, tag: str) -> None:
        element = self.current
        while element is not self.root and element.tag != tag:
            element = element.parent
        if element is not self.root:
            self.current = element.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def _html_rows(data: bytes, name: str, claims: bool) -> Iterator[Row]:
    declared = _CHARSET.search(data[:4096])
    text, encoding = decode(data, declared=declared.group(1).decode("ascii", "replace") if declared else "")
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    row = Row(file=name, number=1, encoding=encoding)
    _page_metadata(row, builder.root)
    blocks = _blocks(_main_element(builder.root))
    if not blocks:
        row.error = "no article text found in the page (no paragraphs outside menus, headers and scripts)"
        yield row
        return
    if not row.title:
        row.title = blocks[0]
    if _fold(blocks[0]) != _fold(row.title):
        blocks.insert(0, row.title)
    row.text = "\n\n".join(blocks)
    row.title = _first_line(row.title)
    _fit(row)
    yield row


def _walk(element: _Element, *, skip_dropped: bool = True) -> Iterator[_Element]:
    """Elements below `element` in document order, without what is never article text."""
    stack = list(reversed(element.children))
    while stack:
        node = stack.pop()
        if isinstance(node, str) or skip_dropped and node.tag in _DROPPED:
            continue
        yield node
        stack.extend(reversed(node.children))


def _text(element: _Element, *, skip_dropped: bool = True) -> str:
    parts, stack = [], list(reversed(element.children))
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            parts.append(node)
        elif not (skip_dropped and node.tag in _DROPPED):
            stack.extend(reversed(node.children))
    return " ".join("".join(parts).split())


def _main_element(root: _Element) -> _Element:
    """The largest <article>, else <main>, else the element with the most text in <p>
    children, else the whole page."""
    articles = [(len(_text(element)), element) for element in _walk(root) if element.tag == "article"]
    if articles and (largest := max(articles, key=lambda sized: sized[0]))[0]:
        return largest[1]
    main = next((element for element in _walk(root) if element.tag == "main"), None)
    if main is not None and _text(main):
        return main
    scores: dict[int, tuple[int, _Element]] = {}
    for element in _walk(root):
        if element.tag == "p" and element.parent is not None:
            length, _ = scores.get(id(element.parent), (0, element.parent))
            scores[id(element.parent)] = (length + len(_text(element)), element.parent)
    if scores:
        return max(scores.values(), key=lambda score: score[0])[1]
    return root


def _blocks(element: _Element) -> list[str]:
    """Paragraphs and headings as lines, whitespace folded inside each, as a browser shows them."""
    blocks, parts = [], []

    def flush() -> None:
        if (block := " ".join("".join(parts).split())):
            blocks.append(block)
        parts.clear()

    stack: list[tuple[_Element | str, bool]] = [(child, False) for child in reversed(element.children)]
    while stack:
        node, closing = stack.pop()
        if isinstance(node, str):
            parts.append(node)
        elif closing:
            flush()
        elif node.tag in _DROPPED:
            continue
        elif node.tag in _BLOCKS:
            flush()
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.children))
        else:
            if node.tag in ("td", "th", "img"):
                parts.append(" ")
            stack.extend((child, False) for child in reversed(node.children))
    flush()
    return blocks


def _page_metadata(row: Row, root: _Element) -> None:
    meta: dict[str, str] = {}
    canonical = page_title = h1 = time = ""
    for element in _walk(root, skip_dropped=False):
        attrs = element.attrs
        if element.tag == "meta":
            key = (attrs.get("property") or attrs.get("name") or attrs.get("itemprop") or "").strip().lower()
            if key and attrs.get("content", "").strip():
                meta.setdefault(key, " ".join(attrs["content"].split()))
        elif element.tag == "link" and "canonical" in attrs.get("rel", "").lower().split():
            canonical = canonical or attrs.get("href", "").strip()
        elif element.tag == "title" and not page_title:
            page_title = _text(element, skip_dropped=False)
        elif element.tag == "h1" and not h1:
            h1 = _text(element, skip_dropped=False)
        elif element.tag == "time" and not time:
            time = attrs.get("datetime", "").strip()
    row.title = meta.get("og:title") or h1 or page_title
    for url in (canonical, meta.get("og:url", "")):
        if url.startswith(("http://", "https://")):
            row.url = url
            break
    row.source = meta.get("og:site_name", "")
    row.byline = meta.get("author", "")
    published = meta.get("article:published_time") or time or meta.get("datepublished", "")
    if published:
        try:
            row.published = _date(published)
        except ValueError:
            row.warnings.append(f"the publication date {published!r} is not a date (YYYY-MM-DD) "
                                "and was left out")


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


# =============================================================================================
# .zip
# =============================================================================================

_UNSAFE_PATH = re.compile(r"^(?:[/\\]|[A-Za-z]:)|(?:^|[/\\])\.\.(?:[/\\]|$)")


def _zip_rows(data: bytes, name: str, claims: bool) -> Iterator[Row]:
    declared = _declared_entries(data)
    if declared is not None and declared > MAX_ZIP_ENTRIES:
        raise UnreadableFile(_too_many(declared))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError, OSError,
            EOFError, struct.error) as error:  # NotImplementedError: a damaged version field
        raise UnreadableFile(f"not a readable zip archive ({error}); make the archive again "
                             "and import it, or import its files one by one") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_ENTRIES:
            raise UnreadableFile(_too_many(len(infos)))
        members = [(info, _refusal(info)) for info in infos if not _skipped(info)]
        total = sum(info.file_size for info, refusal in members if not refusal)
        if total > MAX_ARCHIVE_BYTES:
            raise UnreadableFile(
                f"its files expand to {_size(total)}, over the {_size(MAX_ARCHIVE_BYTES)} limit for one "
                "archive; split it into smaller archives")
        if not members:
            raise UnreadableFile("the archive holds no files")
        budget = MAX_ARCHIVE_BYTES
        for info, refusal in members:
            member = f"{name}/{info.filename}"
            if not refusal:
                content, refusal = _read_member(archive, info, budget)
            if refusal:
                yield _file_error(member, refusal)
                continue
            budget -= len(content)
            yield from parse_bytes(content, name=member, claims=claims)


def _too_many(count: int) -> str:
    return (f"{count:,} entries in the archive, over the limit of {MAX_ZIP_ENTRIES:,}; "
            "split it into smaller archives")


def _declared_entries(data: bytes) -> int | None:
    """The entry count in the end-of-archive record, read before zipfile builds the whole list
    (None when absent or in the ZIP64 record)."""
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_536 - 22))
    if at < 0 or len(data) - at < 22:
        return None
    entries = int.from_bytes(data[at + 10:at + 12], "little")
    return None if entries == 0xFFFF else entries


def _skipped(info: zipfile.ZipInfo) -> bool:
    """Directories and what macOS and version control leave in archives: not articles."""
    if _UNSAFE_PATH.search(info.filename):
        return False  # refused, not skipped
    if info.is_dir():
        return True
    parts = [part for part in re.split(r"[/\\]", info.filename) if part not in ("", ".")]
    return not parts or parts[0] == "__MACOSX" or any(part.startswith(".") for part in parts)


def _refusal(info: zipfile.ZipInfo) -> str:
    """Why a member is refused before it is read, from its header; "" when it may be read."""
    if _UNSAFE_PATH.search(info.filename):
        return "its path leads outside the archive (an absolute path, a drive or ..); refused"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link; refused (put the file itself in the archive)"
    if info.flag_bits & 0x1:
        return "encrypted; make the archive without a password"
    if _suffix(info.filename) == ".zip":
        return "a zip inside the zip is not opened; unzip it and import its files"
    if (problem := _unsupported(info.filename)):
        return problem
    if info.file_size > MAX_FILE_BYTES:
        return _too_large(info.file_size)
    return _bomb(info.file_size, info.compress_size)


def _bomb(size: int, compressed: int) -> str:
    if size > RATIO_CHECK_BYTES and size > MAX_COMPRESSION_RATIO * max(compressed, 1):
        return (f"expands from {_size(compressed)} to {_size(size)}, more than "
                f"{MAX_COMPRESSION_RATIO}:1 as a zip bomb does; refused")
    return ""


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> tuple[bytes, str]:
    """The member's bytes, read no further than the limits allow: its header may lie."""
    limit = min(MAX_FILE_BYTES, budget)
    try:
        with archive.open(info) as stream:
            content = stream.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError,
            RuntimeError, ValueError, OSError, struct.error) as error:
        # A bad CRC, a damaged stream, an unknown compression method, a password.
        return b"", f"cannot be read from the archive ({error}); make the archive again"
    if len(content) > limit:
        if limit < MAX_FILE_BYTES:
            return b"", (f"expands beyond what is left of the {_size(MAX_ARCHIVE_BYTES)} limit "
                         "for one archive; split it into smaller archives")
        return b"", _too_large(len(content)) + " (more than its header said)"
    return content, _bomb(len(content), info.compress_size)


# =============================================================================================
# Shared
# =============================================================================================

# Each reader: (the bytes, the name, whether to read pre-annotated claims) → rows.
_READERS: dict[str, Callable[[bytes, str, bool], Iterator[Row]]] = {
    ".txt": _txt_rows, ".jsonl": _jsonl_rows, ".json": _json_rows, ".csv": _csv_rows,
    ".html": _html_rows, ".htm": _html_rows, ".zip": _zip_rows,
}
SUPPORTED_SUFFIXES = tuple(_READERS)


def _date(value) -> datetime.date:
    """A date, or a date and time of which the date is kept ("2017-08-15T09:30:00Z")."""
    if not isinstance(value, str):
        raise ValueError(value)
    return datetime.date.fromisoformat(value.strip()[:10])


def _fit(row: Row) -> None:
    """Metadata cut to what the article's fields hold, saying so."""
    if len(row.title) > TITLE_LENGTH:
        row.title = row.title[:TITLE_LENGTH].rstrip()
        row.warnings.append(f"the title was cut to {TITLE_LENGTH} characters")
    if len(row.byline) > BYLINE_LENGTH:
        row.byline = row.byline[:BYLINE_LENGTH].rstrip()
        row.warnings.append(f"the byline was cut to {BYLINE_LENGTH} characters")
    if len(row.source) > SOURCE_LENGTH:
        row.source = row.source[:SOURCE_LENGTH].rstrip()
        row.warnings.append(f"the source name was cut to {SOURCE_LENGTH} characters")
    if len(row.url) > URL_LENGTH:
        row.warnings.append(f"the url is longer than {URL_LENGTH} characters and was left out")
        row.url = ""


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:TITLE_LENGTH]
    return ""
