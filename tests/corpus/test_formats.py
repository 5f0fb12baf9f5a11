"""Reading import files (corpus/formats.py): every format, every encoding, and bad input, each
with a real file written into tmp_path. No database: parse_file never touches it."""

import csv
import json
import random
import stat
import time
import zipfile
from pathlib import Path

import pytest

from corpus import formats
from corpus.formats import Row, parse_bytes, parse_file

GOLD = Path("/work/shared/gold/seeds.jsonl")


def rows(path: Path, **options) -> list[Row]:
    return list(parse_file(path, **options))


def only(path: Path) -> Row:
    found = rows(path)
    assert len(found) == 1, found
    return found[0]


def summary(found: list[Row]) -> list[tuple]:
    return [(row.file, row.number, row.title, row.error) for row in found]


def write_zip(path: Path, members: dict[str, str | bytes], *,
              compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


# =============================================================================================
# Dispatch, names, sizes
# =============================================================================================

def test_unsupported_suffix_is_a_file_error_listing_the_supported_ones(tmp_path):
    path = tmp_path / "notes.docx"
    path.write_bytes(b"PK\x03\x04")
    assert summary(rows(path)) == [("notes.docx", None, "", (
        "unsupported file type .docx; import .txt, .jsonl, .json, .csv, .html, .htm, .zip files"))]


def test_suffix_is_matched_case_insensitively_and_name_is_what_reports_show(tmp_path):
    path = tmp_path / "upload-1234"  # an upload kept under a temporary name
    path.write_text("Raid on the border\nBody.", encoding="utf-8")
    assert summary(rows(path, name="REPORT.TXT")) == [("REPORT.TXT", 1, "Raid on the border", "")]


def test_a_missing_file_is_a_file_error(tmp_path):
    assert summary(rows(tmp_path / "gone.txt")) == [
        ("gone.txt", None, "", "could not be read (No such file or directory)")]


def test_a_file_over_the_size_limit_is_refused_with_its_size_and_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "MAX_FILE_BYTES", 10)
    path = tmp_path / "long.txt"
    path.write_text("x" * 20, encoding="utf-8")
    assert only(path).error == ("20 bytes is over the 10 bytes limit for one file; "
                                "split it into smaller files and import those")


def test_parse_bytes_reads_an_upload_held_in_memory():
    (row,) = parse_bytes(b'{"text": "Kept in memory."}\n', name="upload.jsonl")
    assert (row.file, row.number, row.text, row.error) == ("upload.jsonl", 1, "Kept in memory.", "")


# =============================================================================================
# Encodings
# =============================================================================================

TEXT = "“Café” attack in Sirte\nThe ministry said 36 died."


@pytest.mark.parametrize(("data", "encoding"), [
    (TEXT.encode("utf-8"), "UTF-8"),
    (TEXT.encode("utf-8-sig"), "UTF-8 with BOM"),
    (TEXT.encode("utf-16"), "UTF-16 LE"),  # Python writes the machine's order, with its BOM
    (b"\xff\xfe" + TEXT.encode("utf-16-le"), "UTF-16 LE"),
    (b"\xfe\xff" + TEXT.encode("utf-16-be"), "UTF-16 BE"),
    (TEXT.encode("utf-16-le"), "UTF-16 LE"),  # no BOM: told by its NUL bytes
    (TEXT.encode("utf-16-be"), "UTF-16 BE"),
    (TEXT.encode("cp1252"), "Windows-1252"),
])
def test_each_encoding_is_detected_and_read(tmp_path, data, encoding):
    path = tmp_path / "article.txt"
    path.write_bytes(data)
    row = only(path)
    assert (row.text, row.title, row.encoding, row.error) == (TEXT, "“Café” attack in Sirte", encoding, "")


def test_a_byte_undefined_in_cp1252_is_a_file_error_saying_what_to_do(tmp_path):
    path = tmp_path / "odd.txt"
    path.write_bytes(b"Caf\xe9 \x81 attack")
    assert summary(rows(path)) == [("odd.txt", None, "", (
        "neither UTF-8 nor Windows-1252 text (byte 0x81 at position 5 means nothing in either); "
        "save it as UTF-8 and import it again"))]


def test_a_pdf_renamed_txt_is_not_a_text_file(tmp_path):
    path = tmp_path / "scan.txt"
    path.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length 4 >>\nstream\n\x00\x01\x02\x03\xff")
    assert only(path).error == ("not a text file (it looks like a PDF document); "
                                "export the article as plain text (UTF-8) and import that")


def test_an_image_renamed_csv_is_not_a_text_file(tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\x00\x00\x01\x00\x08\x06")
    assert only(path).error.startswith("not a text file (it looks like a PNG image)")


def test_binary_bytes_that_fit_the_utf16_pattern_are_not_text(tmp_path):
    path = tmp_path / "data.txt"
    path.write_bytes(bytes([1, 0, 2, 0, 3, 0, 65, 0] * 20))
    assert only(path).error == ("not a text file; export the article as plain text (UTF-8) "
                                "and import that")


def test_utf32_is_refused_rather_than_read_as_utf16(tmp_path):
    path = tmp_path / "wide.txt"
    path.write_bytes("Sirte".encode("utf-32"))
    assert only(path).error == "UTF-32 text, which is not supported; save it as UTF-8 and import it again"


def test_a_bom_followed_by_bad_utf8_is_a_file_error(tmp_path):
    path = tmp_path / "broken.txt"
    path.write_bytes(b"\xef\xbb\xbfCaf\xe9")
    assert only(path).error == ("not valid UTF-8 with BOM text (at byte 3); "
                                "save it as UTF-8 and import it again")


# =============================================================================================
# .txt
# =============================================================================================

def test_txt_is_one_article_titled_by_its_first_non_empty_line(tmp_path):
    path = tmp_path / "report.txt"
    path.write_text("\n\n  Raid on the border  \n\nHabib Essid said 36 attackers died.\n", encoding="utf-8")
    row = only(path)
    assert (row.number, row.title, row.error) == (1, "Raid on the border", "")
    assert row.text == "\n\n  Raid on the border  \n\nHabib Essid said 36 attackers died.\n"


@pytest.mark.parametrize(("content", "message"), [
    (b"", "the file is empty"),
    (b"  \n\t\n \r\n", "the file holds only spaces and blank lines"),
])
def test_empty_and_whitespace_only_txt_are_row_errors(tmp_path, content, message):
    path = tmp_path / "blank.txt"
    path.write_bytes(content)
    assert summary(rows(path)) == [("blank.txt", 1, "", message)]


# =============================================================================================
# .jsonl and .json
# =============================================================================================

def write_jsonl(path: Path, lines: list) -> Path:
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines),
                    encoding="utf-8")
    return path


def test_malformed_jsonl_lines_are_reported_by_line_and_the_good_ones_around_them_kept(tmp_path):
    path = write_jsonl(tmp_path / "mixed.jsonl", [
        {"text": "Good one."},
        '{"text": "a" "b"}',
        "",
        ["a list"],
        {"title": "no text"},
        {"text": "   "},
        '{"text": "big", "n": ' + "9" * 5000 + "}",
        {"text": "Good two.", "published": "2017-08-15T09:30:00Z"},
        {"text": "Bad date.", "published": "yesterday"},
    ])
    assert summary(rows(path)) == [
        ("mixed.jsonl", 1, "Good one.", ""),
        ("mixed.jsonl", 2, "", "not valid JSON (Expecting ',' delimiter at column 14)"),
        ("mixed.jsonl", 4, "", "each line must be a JSON object"),
        ("mixed.jsonl", 5, "", 'missing "text" (a string)'),
        ("mixed.jsonl", 6, "", '"text" is empty'),
        ("mixed.jsonl", 7, "", "not valid JSON (Exceeds the limit (4300 digits) for integer string "
                               "conversion: value has 5000 digits)"),
        ("mixed.jsonl", 8, "Good two.", ""),
        ("mixed.jsonl", 9, "Bad date.", "\"published\" is not a date (YYYY-MM-DD): 'yesterday'"),
    ]
    assert rows(path)[6].published.isoformat() == "2017-08-15"


def test_metadata_is_read_at_the_top_level_or_in_meta_and_the_top_level_wins(tmp_path):
    path = write_jsonl(tmp_path / "prodigy.jsonl", [{
        "text": "Headline\nBody.", "source": "TAP",
        "meta": {"source": "Ignored", "url": "https://example.org/1", "published": "2016-03-07",
                 "byline": " Jane Doe ", "title": "From meta"}}])
    row = only(path)
    assert (row.title, row.url, row.source, str(row.published), row.byline) == (
        "From meta", "https://example.org/1", "TAP", "2016-03-07", "Jane Doe")


def test_a_raw_line_separator_inside_a_json_string_does_not_split_the_line(tmp_path):
    path = tmp_path / "raw.jsonl"
    path.write_text(json.dumps({"text": "one\u2028two"}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert only(path).text == "one\u2028two"


def test_prodigy_spans_are_read_and_their_extra_keys_ignored(tmp_path):
    path = write_jsonl(tmp_path / "ner.jsonl", [{
        "text": "Habib Essid visited Tunis.", "_input_hash": 1, "answer": "accept",
        "tokens": [{"text": "Habib", "start": 0, "end": 5, "id": 0}],
        "spans": [{"start": 20, "end": 25, "label": "GPE", "token_start": 3, "token_end": 3},
                  {"start": 0, "end": 11, "label": "PERSON", "text": "Habib Essid"}]}])
    row = only(path)
    assert (row.spans, row.error, row.warnings) == ([(0, 11, "PERSON"), (20, 25, "GPE")], "", [])


def test_doccano_label_lists_and_entities_become_spans(tmp_path):
    path = tmp_path / "doccano.json"
    path.write_text(json.dumps([
        {"id": 1, "text": "NATO met in Tunis.", "label": [[12, 17, "LOC"], [0, 4, "ORG"]]},
        {"id": 2, "text": "Essid spoke.", "entities": [
            {"id": 7, "label": "PERSON", "start_offset": 0, "end_offset": 5}], "relations": []},
        {"id": 3, "text": "Sports news.", "label": ["SPORTS"]},
    ]), encoding="utf-8")
    found = rows(path)
    assert [(row.number, row.spans, row.error) for row in found] == [
        (1, [(0, 4, "ORG"), (12, 17, "LOC")], ""), (2, [(0, 5, "PERSON")], ""), (3, [], "")]
    assert found[2].warnings == ["the document label ['SPORTS'] is not a span and was not imported"]


def test_a_rejected_prodigy_answer_keeps_the_text_but_not_its_spans(tmp_path):
    path = write_jsonl(tmp_path / "rejected.jsonl", [
        {"text": "Essid spoke.", "answer": "reject", "spans": [{"start": 0, "end": 5, "label": "ORG"}]}])
    row = only(path)
    assert (row.text, row.spans, row.warnings) == (
        "Essid spoke.", [], ['Prodigy answer is "reject": its spans were left out'])


def test_empty_and_repeated_spans_are_left_out_with_a_warning(tmp_path):
    path = write_jsonl(tmp_path / "spans.jsonl", [{"text": "Essid spoke.", "spans": [
        {"start": 0, "end": 5, "label": "PERSON"}, {"start": 6, "end": 6, "label": "ORG"},
        {"start": 0, "end": 5, "label": "PERSON"}]}])
    row = only(path)
    assert (row.spans, row.error) == ([(0, 5, "PERSON")], "")
    assert row.warnings == ["span 2 (ORG at 6) is empty and was left out",
                            "span 3 (PERSON 0–5) repeats an earlier one and was left out"]


@pytest.mark.parametrize(("data", "message"), [
    ({"spans": [{"start": 0, "end": 99, "label": "ACTOR"}]}, "span 1 (0–99) lies outside the text"),
    ({"spans": [{"start": 0, "label": "ACTOR"}]}, 'span 1 needs integer "start" and "end" and a "label"'),
    ({"spans": [{"start": 0.5, "end": 3, "label": "ACTOR"}]},
     'span 1 needs integer "start" and "end" and a "label"'),
    ({"spans": [{"start": 0, "end": 5, "label": "ACTOR"}, {"start": 3, "end": 8, "label": "PLACE"}]},
     "spans overlap at 3"),
    ({"spans": [{"start": 0, "end": 5, "label": "ACTOR", "text": "Other"}]},
     "span 1: \"text\" says 'Other' but the offsets hold 'Habib'"),
    ({"spans": "Habib"}, '"spans" must be a list'),
    ({"label": [[0, 5]]}, 'label 1 must be [start, end, "LABEL"]'),
    ({"entities": [{"start_offset": 0, "end_offset": 40, "label": "PERSON"}]},
     "span 1 (0–40) lies outside the text"),
    ({"meta": "TAP"}, '"meta" must be a JSON object'),
    ({"title": 3}, '"title" must be a string'),
])
def test_bad_spans_and_fields_are_row_errors(tmp_path, data, message):
    path = write_jsonl(tmp_path / "bad.jsonl", [{"text": "Habib Essid spoke.", **data}])
    assert only(path).error == message


def test_a_rejected_gold_span_is_left_out_silently(tmp_path):
    path = write_jsonl(tmp_path / "gold.jsonl", [{"text": "Habib Essid spoke.", "spans": [
        {"start": 0, "end": 5, "label": "ACTOR", "status": "rejected"},
        {"start": 0, "end": 11, "label": "ACTOR", "status": "confirmed"}]}])
    row = only(path)
    assert (row.spans, row.warnings) == ([(0, 11, "ACTOR")], [])


def test_the_gold_seeds_with_spans_and_claims_read_without_errors():
    found = rows(GOLD)
    assert [row.number for row in found] == [1, 2, 3, 4, 5]
    assert [row.error for row in found] == [""] * 5
    assert all(row.spans and row.claims for row in found)
    first = json.loads(GOLD.read_text(encoding="utf-8").splitlines()[0])
    assert found[0].spans == sorted((s["start"], s["end"], s["label"]) for s in first["spans"])
    assert len(found[0].claims) == len(first["claims"])


def test_a_bad_claim_is_a_row_error(tmp_path):
    path = write_jsonl(tmp_path / "claims.jsonl", [{"text": "Essid said 36 died.", "claims": [
        {"start": 11, "end": 99}]}])
    assert only(path).error.startswith("claim 1: ")


def test_a_json_array_numbers_its_items_from_one(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps([{"text": "One."}, "two", {"text": "Three.", "meta": {"url": "u"}}]),
                    encoding="utf-8")
    assert [(row.number, row.text, row.url, row.error) for row in rows(path)] == [
        (1, "One.", "", ""), (2, "", "", "each item must be a JSON object"), (3, "Three.", "u", "")]


def test_invalid_json_is_a_file_error_with_line_and_column(tmp_path):
    path = tmp_path / "export.json"
    path.write_text('[{"text": "One."},\n {"text": "Two." "x"}]', encoding="utf-8")
    assert summary(rows(path)) == [("export.json", None, "", (
        "not valid JSON (Expecting ',' delimiter at line 2, column 18); nothing in it was imported"))]


def test_a_json_array_saved_as_jsonl_is_read_as_an_array(tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_text(json.dumps([{"text": "One."}, {"text": "Two."}], indent=2), encoding="utf-8")
    assert [(row.number, row.text) for row in rows(path)] == [(1, "One."), (2, "Two.")]


@pytest.mark.parametrize(("name", "content", "message"), [
    ("empty.jsonl", "\n \n", "the file is empty; it should hold one JSON object a line"),
    ("empty.json", "", "the file is empty; it should hold a JSON array of objects"),
    ("empty.json", "[]", "the JSON array is empty"),
    ("number.json", "42", 'not a JSON array of objects; the file should hold [{"text": ...}, ...]'),
    ("deep.json", "[" * 100_000 + "]" * 100_000,
     "not valid JSON (nested too deeply); nothing in it was imported"),
])
def test_empty_and_odd_json_files_are_file_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert summary(rows(path)) == [(name, None, "", message)]


# =============================================================================================
# .csv
# =============================================================================================

def test_csv_columns_are_matched_by_name_whatever_their_case_and_spaces(tmp_path):
    path = tmp_path / "articles.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([" Title ", "URL", "TEXT", "Published", "source", "Byline", "notes"])
        writer.writerow(["Raid", "https://example.org/1", "Body, with a comma.", "2016-03-07", "TAP",
                         "Jane Doe", "ignored"])
        writer.writerow(["", "", "Untitled body\nsecond line", "", "", "", ""])
    first, second = rows(path)
    assert (first.number, first.title, first.url, first.text, str(first.published), first.source,
            first.byline, first.error) == (2, "Raid", "https://example.org/1", "Body, with a comma.",
                                           "2016-03-07", "TAP", "Jane Doe", "")
    assert (second.number, second.title, second.text, second.published) == (
        3, "Untitled body", "Untitled body\nsecond line", None)


def test_a_csv_without_a_text_column_is_a_file_error_naming_the_columns(tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text("headline,body\nRaid,Something happened.\n", encoding="utf-8")
    assert summary(rows(path)) == [("wrong.csv", None, "", (
        "no \"text\" column in the header row (found 'headline', 'body'; expected \"text\" and "
        "optionally 'title', 'url', 'published', 'source', 'byline'); the first row must name the columns"))]


def test_csv_rows_with_the_wrong_number_of_fields_are_row_errors(tmp_path):
    path = tmp_path / "fields.csv"
    path.write_text("title,text\nOne,First body\nTwo,Second, unquoted\nThree\nFour,Fourth body,,\n",
                    encoding="utf-8")
    assert [(row.number, row.text, row.error) for row in rows(path)] == [
        (2, "First body", ""),
        (3, "", "3 fields where the header has 2; a field holding a comma must be in double quotes"),
        (4, "", "1 fields where the header has 2; a field holding a comma must be in double quotes"),
        (5, "Fourth body", ""),  # empty fields after the last column are harmless
    ]


def test_a_semicolon_csv_is_detected(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("Titre;text;published\nAttaque;Le ministère a dit, hier, 36 morts.;2016-03-07\n"
                     .encode("cp1252"))
    (row,) = rows(path)
    assert (row.text, row.encoding, str(row.published)) == (
        "Le ministère a dit, hier, 36 morts.", "Windows-1252", "2016-03-07")


def test_a_tab_separated_csv_is_detected(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("title\ttext\nRaid\tBody; with, both.\n", encoding="utf-8")
    assert [(row.title, row.text) for row in rows(path)] == [("Raid", "Body; with, both.")]


def test_quoted_newlines_stay_inside_their_field_and_rows_are_counted_as_rows(tmp_path):
    path = tmp_path / "multi.csv"
    path.write_bytes(b'title,text\r\nOne,"First para.\r\n\r\nSecond ""quoted"" para."\r\n'
                     b"\r\nTwo,Plain\r\n")
    assert [(row.number, row.text) for row in rows(path)] == [
        (2, 'First para.\r\n\r\nSecond "quoted" para.'), (4, "Plain")]


def test_an_unclosed_quote_is_reported_and_the_rows_it_swallowed_are_read_again(tmp_path):
    path = tmp_path / "quote.csv"
    path.write_text('title,text\nOne,First\nTwo,"Unclosed body\nThree,Third\nFour,Fourth\n',
                    encoding="utf-8")
    assert [(row.number, row.text, row.error) for row in rows(path)] == [
        (2, "First", ""),
        (3, "", "a quote opened in this row is never closed, so the rows after it were read again "
                "on their own; put the whole field in double quotes and double any quote inside it"),
        (4, "Third", ""), (5, "Fourth", ""),
    ]


def test_a_quote_inside_a_quoted_field_is_a_row_error_and_the_next_rows_are_kept(tmp_path):
    path = tmp_path / "quote.csv"
    path.write_text('title,text\nOne,"He said "no" twice"\nTwo,Second\n', encoding="utf-8")
    assert [(row.number, row.text, row.error) for row in rows(path)] == [
        (2, "", "the quoting is broken (',' expected after '\"'); a field with quotes inside must be "
                'in double quotes, with each quote inside doubled ("")'),
        (3, "Second", ""),
    ]


def test_csv_rows_with_empty_text_or_a_bad_date_are_row_errors(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("title,text,published\nA,,\n,,\nB,Body,15/08/2017\nC,Body C,2017-08-15\n",
                    encoding="utf-8")
    assert [(row.number, row.error) for row in rows(path)] == [
        (2, '"text" is empty'),
        (4, "\"published\" is not a date (YYYY-MM-DD): '15/08/2017'"),
        (5, ""),
    ]


def test_a_long_article_fits_in_one_csv_field(tmp_path):
    body = "word " * 60_000  # 300 KB, over csv's default field limit of 128 KB
    path = tmp_path / "long.csv"
    path.write_text(f'text\n"{body}"\n', encoding="utf-8")
    assert only(path).text == body


def test_an_empty_csv_is_a_file_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("\n\n", encoding="utf-8")
    assert only(path).error == 'the file is empty; it needs a header row with a "text" column'


# =============================================================================================
# .html
# =============================================================================================

PAGE = """<!doctype html>
<html><head>
  <meta charset="utf-8">
  <title>Raid in Ben Guerdane | Libya Herald</title>
  <meta property="og:title" content="Raid in Ben Guerdane">
  <meta property="og:site_name" content="Libya Herald">
  <meta property="article:published_time" content="2016-03-07T08:15:00+01:00">
  <meta name="author" content="Jane Doe">
  <link rel="canonical" href="https://libyaherald.com/2016/03/07/raid">
  <style>p { color: red }</style>
  <script>var html = "<p>not text</p>";</script>
</head><body>
  <nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li></ul></nav>
  <header><h1>Raid in Ben Guerdane</h1><p class="byline">By Jane Doe</p></header>
  <div class="teaser"><article><p>Short teaser about something else.</p></article></div>
  <article>
    <h1>Raid in Ben Guerdane</h1>
    <p>Habib Essid said   36 attackers
       were killed &amp; seven civilians died.</p>
    <p>The <b>army</b> confirmed it on <a href="/monday">Monday</a>.</p>
    <form><button>Subscribe</button></form>
    <h2>Reactions</h2>
    <p>Officials called it &ldquo;an attack on the state&rdquo;.<br>Nobody disputed it.
    <aside>Related: other raids</aside>
    <script>track()</script>
  </article>
  <footer>© 2016 Libya Herald</footer>
</body></html>"""


def test_html_keeps_the_largest_article_and_drops_menus_scripts_and_footers(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(PAGE, encoding="utf-8")
    row = only(path)
    assert row.text == (
        "Raid in Ben Guerdane\n\n"
        "Habib Essid said 36 attackers were killed & seven civilians died.\n\n"
        "The army confirmed it on Monday.\n\n"
        "Reactions\n\n"
        "Officials called it “an attack on the state”.\n\n"
        "Nobody disputed it.")
    assert (row.number, row.title, row.url, row.source, str(row.published), row.byline, row.error) == (
        1, "Raid in Ben Guerdane", "https://libyaherald.com/2016/03/07/raid", "Libya Herald",
        "2016-03-07", "Jane Doe", "")


def test_html_without_an_article_takes_main_then_the_block_with_most_paragraph_text(tmp_path):
    with_main = tmp_path / "main.htm"
    with_main.write_text("<title>Page title</title><div><p>Sidebar words</p></div>"
                         "<main><p>Main body.</p></main>", encoding="utf-8")
    assert only(with_main).text == "Page title\n\nMain body."
    blocks = tmp_path / "blocks.html"
    blocks.write_text("<body><div class=menu><p>Short.</p></div><div class=content><h1>Headline</h1>"
                      "<p>A long first paragraph of the story.</p><p>A second one.</p></div></body>",
                      encoding="utf-8")
    row = only(blocks)
    assert (row.title, row.text) == (
        "Headline", "Headline\n\nA long first paragraph of the story.\n\nA second one.")


def test_an_empty_article_element_does_not_hide_the_text_elsewhere(tmp_path):
    path = tmp_path / "wrapper.html"
    path.write_text("<article></article><main></main><div><p>The real story.</p></div>", encoding="utf-8")
    assert only(path).text == "The real story."


def test_html_title_falls_back_to_h1_then_title_and_time_gives_the_date(tmp_path):
    path = tmp_path / "plain.html"
    path.write_text("<html><head><title>Tab title</title></head><body><header><h1>Real headline</h1>"
                    "<time datetime='2017-08-15'>15 Aug</time></header><article><p>Body.</p></article>"
                    "</body></html>", encoding="utf-8")
    row = only(path)
    assert (row.title, row.text, str(row.published)) == (
        "Real headline", "Real headline\n\nBody.", "2017-08-15")


def test_an_html_page_with_no_text_is_an_error(tmp_path):
    path = tmp_path / "empty.html"
    path.write_text("<html><head><title>Nothing</title><script>x()</script></head>"
                    "<body><nav>Home</nav></body></html>", encoding="utf-8")
    assert summary(rows(path)) == [("empty.html", 1, "Nothing", (
        "no article text found in the page (no paragraphs outside menus, headers and scripts)"))]


def test_html_in_its_declared_charset_is_read(tmp_path):
    path = tmp_path / "arabic.html"
    path.write_bytes('<meta charset="windows-1256"><article><p>وزارة الداخلية</p></article>'
                     .encode("cp1256"))
    row = only(path)
    assert (row.text, row.encoding) == ("وزارة الداخلية", "CP1256")


def test_an_unreadable_html_date_is_a_warning_not_an_error(tmp_path):
    path = tmp_path / "date.html"
    path.write_text('<meta property="article:published_time" content="last week"><p>Body.</p>',
                    encoding="utf-8")
    row = only(path)
    assert (row.error, row.published, row.warnings) == (
        "", None, ["the publication date 'last week' is not a date (YYYY-MM-DD) and was left out"])


# =============================================================================================
# .zip
# =============================================================================================

def test_zip_members_are_read_by_their_own_suffix_and_named_inside_the_archive(tmp_path):
    path = write_zip(tmp_path / "batch.zip", {
        "2016/": "",
        "2016/raid.txt": "Raid\nBody.",
        "2016/more.jsonl": '{"text": "One."}\n{oops\n',
        "sheet.csv": "text\nFrom a sheet.\n",
        "page.html": "<article><h1>Page</h1><p>Body.</p></article>",
        "__MACOSX/2016/._raid.txt": "resource fork",
        ".DS_Store": b"\x00\x00\x00\x01Bud1",
        "2016/.hidden.txt": "hidden",
        "photo.jpg": b"\xff\xd8\xff",
    })
    assert summary(rows(path)) == [
        ("batch.zip/2016/raid.txt", 1, "Raid", ""),
        ("batch.zip/2016/more.jsonl", 1, "One.", ""),
        ("batch.zip/2016/more.jsonl", 2, "", "not valid JSON (Expecting property name enclosed in "
                                             "double quotes at column 2)"),
        ("batch.zip/sheet.csv", 2, "From a sheet.", ""),
        ("batch.zip/page.html", 1, "Page", ""),
        ("batch.zip/photo.jpg", None, "", "unsupported file type .jpg; import .txt, .jsonl, .json, "
                                          ".csv, .html, .htm, .zip files"),
    ]


def test_a_zip_with_too_many_entries_is_refused_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "MAX_ZIP_ENTRIES", 3)
    path = write_zip(tmp_path / "many.zip", {f"{n}.txt": f"Article {n}" for n in range(5)})
    assert summary(rows(path)) == [("many.zip", None, "", (
        "5 entries in the archive, over the limit of 3; split it into smaller archives"))]


def test_a_zip_bomb_member_is_refused_and_the_others_read(tmp_path):
    path = write_zip(tmp_path / "bomb.zip", {"bomb.txt": "a" * 5_000_000, "fine.txt": "Fine article."})
    bomb, fine = rows(path)
    assert bomb.file == "bomb.zip/bomb.txt" and bomb.number is None
    assert bomb.error.startswith("expands from ")
    assert bomb.error.endswith(" to 4.8 MB, more than 100:1 as a zip bomb does; refused")
    assert (fine.text, fine.error) == ("Fine article.", "")


def test_a_small_member_that_compresses_well_is_not_a_bomb(tmp_path):
    path = write_zip(tmp_path / "spaces.zip", {"spaces.txt": "Title\n" + " " * 4000 + "body"})
    assert only(path).error == ""


@pytest.mark.parametrize("member", ["../evil.txt", "/abs.txt", "dir/../../evil.txt", "C:/win.txt",
                                    "..\\evil.txt"])
def test_a_member_whose_path_leads_outside_the_archive_is_refused(tmp_path, member):
    path = write_zip(tmp_path / "unsafe.zip", {member: "evil", "good.txt": "Good."})
    assert [(row.file, row.error) for row in rows(path)] == [
        (f"unsafe.zip/{member}",
         "its path leads outside the archive (an absolute path, a drive or ..); refused"),
        ("unsafe.zip/good.txt", "")]


def test_a_symbolic_link_member_is_refused(tmp_path):
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as archive:
        link = zipfile.ZipInfo("passwd.txt")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    assert only(path).error == "a symbolic link; refused (put the file itself in the archive)"


def test_a_nested_zip_is_refused_not_expanded(tmp_path):
    inner = write_zip(tmp_path / "inner.zip", {"a.txt": "Inside."})
    path = write_zip(tmp_path / "outer.zip", {"inner.zip": inner.read_bytes()})
    assert summary(rows(path)) == [("outer.zip/inner.zip", None, "", (
        "a zip inside the zip is not opened; unzip it and import its files"))]


@pytest.mark.parametrize("content", [b"not a zip at all", b"PK\x03\x04" + b"\x00" * 40])
def test_a_corrupt_zip_is_a_file_error(tmp_path, content):
    path = tmp_path / "broken.zip"
    path.write_bytes(content)
    (row,) = rows(path)
    assert (row.file, row.number) == ("broken.zip", None)
    assert row.error == ("not a readable zip archive (File is not a zip file); make the archive again "
                         "and import it, or import its files one by one")


def test_a_truncated_zip_is_a_file_error(tmp_path):
    whole = write_zip(tmp_path / "whole.zip", {"a.txt": "Article " * 100}).read_bytes()
    path = tmp_path / "cut.zip"
    path.write_bytes(whole[:len(whole) // 2])
    assert only(path).error.startswith("not a readable zip archive")


def test_a_member_larger_than_its_header_says_is_refused(tmp_path):
    """The header may lie: the member is read no further than it says, and the CRC catches it."""
    path = write_zip(tmp_path / "liar.zip", {"a.txt": "x" * 1000}, compression=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    central = data.rindex(b"PK\x01\x02")
    data[central + 24:central + 28] = (10).to_bytes(4, "little")  # uncompressed size: 10
    path.write_bytes(bytes(data))
    assert only(path).error == ("cannot be read from the archive (Bad CRC-32 for file 'a.txt'); "
                                "make the archive again")


def test_a_member_over_the_file_limit_is_refused_by_its_header(tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "MAX_FILE_BYTES", 1000)
    path = write_zip(tmp_path / "big.zip", {"big.txt": "x" * 2000, "small.txt": "Small."})
    assert path.stat().st_size < 1000  # the archive fits; one of its members does not
    assert [(row.file, row.error) for row in rows(path)] == [
        ("big.zip/big.txt", "2 KB is over the 1000 bytes limit for one file; split it into "
                            "smaller files and import those"),
        ("big.zip/small.txt", "")]


def test_an_archive_expanding_beyond_its_limit_is_refused_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "MAX_ARCHIVE_BYTES", 100)
    path = write_zip(tmp_path / "wide.zip", {"a.txt": "a" * 80, "b.txt": "b" * 80})
    assert only(path).error == ("its files expand to 160 bytes, over the 100 bytes limit for one "
                                "archive; split it into smaller archives")


def test_an_archive_of_only_folders_and_mac_files_holds_no_files(tmp_path):
    path = write_zip(tmp_path / "mac.zip", {"folder/": "", "__MACOSX/folder/._x.txt": "x"})
    assert only(path).error == "the archive holds no files"


# =============================================================================================
# Speed: the importer parses 10,000 articles at a time
# =============================================================================================

def test_ten_thousand_articles_parse_in_well_under_seconds(tmp_path):
    texts = [f"Article {n}\nHabib Essid said {n} attackers died in Ben Guerdane." * 3
             for n in range(10_000)]
    jsonl = write_jsonl(tmp_path / "many.jsonl", [{"text": text, "source": "TAP"} for text in texts])
    archive = write_zip(tmp_path / "many.zip", {f"a/{n}.txt": text for n, text in enumerate(texts)})
    for path in (jsonl, archive):
        began = time.perf_counter()
        found = rows(path)
        elapsed = time.perf_counter() - began
        assert len(found) == 10_000 and not any(row.error for row in found)
        assert elapsed < 5, f"{path.name}: {elapsed:.2f} s"  # about 0.1 s here; 5 s spares slow CI


# =============================================================================================
# Bad content never raises
# =============================================================================================

SAMPLES = {
    "a.txt": "Title\nBody “quoted” café.".encode(),
    "a.jsonl": (json.dumps({"text": "Essid spoke.", "meta": {"source": "TAP"},
                            "spans": [{"start": 0, "end": 5, "label": "PERSON"}]}) + "\n").encode() * 3,
    "a.json": json.dumps([{"text": "NATO met.", "label": [[0, 4, "ORG"]]},
                          {"text": "Essid.", "entities": [{"start_offset": 0, "end_offset": 5,
                                                            "label": "PERSON"}]}]).encode(),
    "a.csv": b'title;text;published\nA;"multi\nline ""q""";2020-01-01\nB;b;\n',
    "a.html": PAGE.encode(),
}


@pytest.mark.parametrize("name", [*SAMPLES, "a.zip"])
def test_damaged_files_come_out_as_rows_and_never_raise(tmp_path, name):
    """Bytes changed, inserted and cut at random (seeded): every row is an article or an error."""
    if name == "a.zip":
        data = write_zip(tmp_path / "a.zip", dict(SAMPLES)).read_bytes()
    else:
        data = SAMPLES[name]
    chance = random.Random(name)
    for _ in range(300):
        damaged = bytearray(data)
        for _ in range(chance.randint(1, 6)):
            at = chance.randrange(len(damaged) + 1)
            roll = chance.random()
            if roll < 0.4 and damaged:
                damaged[min(at, len(damaged) - 1)] = chance.randrange(256)
            elif roll < 0.7:
                damaged[at:at] = bytes([chance.choice(b"\"',;\t\n\r<>/[]{}\\\x00\x81\xff")])
            else:
                del damaged[at:at + chance.randint(1, 40)]
        for row in parse_bytes(bytes(damaged), name=name):
            assert isinstance(row, Row)
            assert row.error or row.text.strip()
