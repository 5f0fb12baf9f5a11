"""Reading import files into rows: one Row per article, or a Row that carries what is wrong.

No database here: `importing.py` stores the rows.
"""

import datetime
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MAX_FILE_BYTES = 50 * 1024 * 1024


class UnreadableFile(Exception):
    """A whole file cannot be read (as opposed to one bad row in it)."""


@dataclass
class Row:
    file: str
    number: int
    text: str = ""
    title: str = ""
    url: str = ""
    source: str = ""
    published: datetime.date | None = None
    spans: list[tuple[int, int, str]] = field(default_factory=list)
    claims: list = field(default_factory=list)  # annotation.claim_import.RowClaim
    error: str = ""


def read_text_file(path: Path) -> str:
    data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFile(f"{path.name}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    encoding = "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"{path.name}: not valid {encoding.upper()} text (byte {error.start}); "
                           "save it as UTF-8 and import it again") from None


def parse_file(path: Path) -> Iterator[Row]:
    suffix = path.suffix.lower()
    if suffix == ".txt":
        yield _txt_row(path)
    elif suffix == ".jsonl":
        yield from _jsonl_rows(path)
    else:
        raise UnreadableFile(f"{path.name}: unsupported file type {suffix or '(none)'}; "
                           "use .txt or .jsonl")


def _txt_row(path: Path) -> Row:
    text = read_text_file(path)
    row = Row(file=path.name, number=1, text=text, title=_first_line(text))
    if not text.strip():
        row.error = "the file is empty"
    return row


def _jsonl_rows(path: Path) -> Iterator[Row]:
    for number, line in enumerate(read_text_file(path).splitlines(), start=1):
        if not line.strip():
            continue
        row = Row(file=path.name, number=number)
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            row.error = f"not valid JSON ({error.msg} at column {error.colno})"
            yield row
            continue
        row.error = _fill_row(row, data)
        yield row


def _fill_row(row: Row, data) -> str:
    """Copy one JSON object onto the row; returns an error message, or "" when it is valid."""
    if not isinstance(data, dict):
        return "each line must be a JSON object"
    text = data.get("text")
    if not isinstance(text, str):
        return 'missing "text" (a string)'
    if not text.strip():
        return '"text" is empty'
    row.text = text
    for name in ("title", "url", "source"):
        value = data.get(name) or ""
        if not isinstance(value, str):
            return f'"{name}" must be a string'
        setattr(row, name, value.strip())
    row.title = row.title or _first_line(text)
    if (error := _fill_spans(row, data.get("spans"))):
        return error
    from annotation import claim_import

    row.claims, error = claim_import.parse_claims(row.text, data.get("claims"))
    if error:
        return error
    if published := data.get("published"):
        try:
            row.published = datetime.date.fromisoformat(str(published)[:10])
        except ValueError:
            return f'"published" is not a date (YYYY-MM-DD): {published!r}'
    return ""


def _fill_spans(row: Row, spans) -> str:
    """Pre-annotated spans ({"start", "end", "label"}, end exclusive), checked against the text."""
    if spans is None:
        return ""
    if not isinstance(spans, list):
        return '"spans" must be a list'
    for number, span in enumerate(spans, start=1):
        if isinstance(span, dict) and span.get("status") == "rejected":
            continue  # an export's rejected suggestion: a decision against it, not for it
        try:
            start, end, label = int(span["start"]), int(span["end"]), str(span["label"])
        except (KeyError, TypeError, ValueError):
            return f'span {number} needs integer "start" and "end" and a "label"'
        if not 0 <= start < end <= len(row.text):
            return f"span {number} ({start}–{end}) lies outside the text"
        if "text" in span and span["text"] != row.text[start:end]:
            return (f'span {number}: "text" says {span["text"]!r} but the offsets hold '
                    f"{row.text[start:end]!r}")
        row.spans.append((start, end, label))
    row.spans.sort()
    for (_, end, _), (start, _, _) in zip(row.spans, row.spans[1:]):
        if start < end:
            return f"spans overlap at {start}"
    return ""


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:500]
    return ""
