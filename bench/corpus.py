"""The benchmark corpus: the five seed articles repeated, each copy made distinct by one line.

    .venv/bin/python -m bench.corpus --articles 10000 -o /tmp/corpus.jsonl [--format jsonl|zip]
                                     [--per-file K]                       (from the project folder)

Article i is seed i % 5 (`../shared/gold/seeds.jsonl`, else `fixtures/seed_articles.json`, as
bench/pretag.py reads them) with the line "Bench copy i: filed at <a time from i>." appended,
so every copy has its own normalised text (the importer skips duplicates) and the corpus keeps the
seeds' length, about 3,200 characters an article. Each article also carries a title, url, source
and publication date, as an export from a news archive would. Article i is the same whatever the
size asked for, and the files are byte for byte the same from one run to the next.

The importer takes files of up to 50 MB and zips of up to 20,000 members (corpus/formats.py):
10,000 articles make a 33 MB .jsonl, 100,000 do not fit in one file; `--per-file 10000` writes
parts (`corpus-01.jsonl`, ...) that do.
"""

import argparse
import datetime
import json
import zipfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from bench.pretag import seed_texts

SIZES = (1_000, 10_000, 100_000)
PER_FILE = 10_000  # articles a file that the importer's limits accept in either format
_FILED = datetime.datetime(2024, 1, 1, 6, 0)
_SOURCES = ("Bench Wire", "Bench Daily", "Bench Post", "Bench Herald", "Bench Observer")
_ZIP_DATE = (2024, 1, 1, 0, 0, 0)  # fixed member dates: the same archive on every run


@cache
def _seeds() -> tuple[str, ...]:
    return tuple(seed_texts())


def article(i: int) -> dict:
    """Article number i of every corpus."""
    seeds = _seeds()
    seed = seeds[i % len(seeds)]
    filed = _FILED + datetime.timedelta(minutes=7 * i)
    text = f"{seed.rstrip()}\n\nBench copy {i}: filed at {filed:%Y-%m-%d %H:%M} UTC."
    headline = next(line.strip() for line in seed.splitlines() if line.strip())[:400]
    return {"title": f"{headline} (copy {i})", "url": f"https://bench.example/articles/{i}",
            "source": _SOURCES[i % len(_SOURCES)], "published": f"{filed:%Y-%m-%d}", "text": text}


def iter_corpus(n: int, *, start: int = 0) -> Iterator[dict]:
    return (article(i) for i in range(start, start + n))


def make_corpus(n: int) -> list[dict]:
    return list(iter_corpus(n))


def write_jsonl(path: Path, n: int, *, start: int = 0) -> Path:
    """Articles start .. start + n - 1, one JSON object a line."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as out:
        for item in iter_corpus(n, start=start):
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
    return path


def write_zip(path: Path, n: int, *, start: int = 0) -> Path:
    """Articles start .. start + n - 1 as `article-<i>.txt` members (the text only: a .txt
    article's title is its first line)."""
    path = Path(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for i, item in enumerate(iter_corpus(n, start=start), start=start):
            member = zipfile.ZipInfo(f"article-{i:06d}.txt", date_time=_ZIP_DATE)
            member.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(member, item["text"])
    return path


def write_files(path: Path, n: int, *, file_format: str = "jsonl", per_file: int | None = None) -> list[Path]:
    """The corpus of n articles as one file at `path`, or with `per_file` as parts of at most
    that many articles beside it (`<stem>-01<suffix>`, ...)."""
    path = Path(path)
    write = write_zip if file_format == "zip" else write_jsonl
    if not per_file or n <= per_file:
        return [write(path, n)]
    starts = range(0, n, per_file)
    width = len(str(len(starts)))
    return [write(path.with_name(f"{path.stem}-{part:0{width}d}{path.suffix}"),
                  min(per_file, n - start), start=start)
            for part, start in enumerate(starts, start=1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=SIZES[0],
                        help=f"how many (the benchmarks use {', '.join(map(str, SIZES))})")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--format", choices=["jsonl", "zip"], default=None,
                        help="default: from the output's suffix, else jsonl")
    parser.add_argument("--per-file", type=int, default=None,
                        help="split into parts of at most this many articles")
    args = parser.parse_args()
    if args.articles < 1:
        parser.error("--articles must be at least 1")
    if args.per_file is not None and args.per_file < 1:
        parser.error("--per-file must be at least 1")
    file_format = args.format or ("zip" if args.output.suffix.lower() == ".zip" else "jsonl")

    from corpus.formats import MAX_FILE_BYTES, MAX_ZIP_ENTRIES  # no Django needed: the defaults

    for path in write_files(args.output, args.articles, file_format=file_format, per_file=args.per_file):
        size = path.stat().st_size
        print(f"{path}  {size / 1024 / 1024:.1f} MB")
        if size > MAX_FILE_BYTES:
            print(f"  over the importer's {MAX_FILE_BYTES // 1024 // 1024} MB limit for one file: "
                  f"use --per-file {PER_FILE}")
    if file_format == "zip" and min(args.articles, args.per_file or args.articles) > MAX_ZIP_ENTRIES:
        print(f"  over the importer's {MAX_ZIP_ENTRIES} members a zip: use --per-file {PER_FILE}")


if __name__ == "__main__":
    main()
