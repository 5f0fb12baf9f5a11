"""Pages at scale: the article list, corpus search and the article page at 1,000, 10,000 and
100,000 articles, each beside its goal (p95 ≤ 25 ms, and flat from the smallest corpus to the
largest).

    .venv/bin/python -m bench.pages [--sizes 1000,10000,100000] [--requests N]
                                                                     (from the project folder)

The corpus is bench/corpus.py's (the seed articles repeated, each copy made distinct by one
line). The five seeds are pre-tagged with the real pipeline; every copy then gets its seed's
mentions and claims (the same offsets: a copy is its seed with a line added after it), so that
each article carries what pre-tagging gives it, 100,000 articles included, without spending
hours in spaCy. The corpus grows in place from one size to the next.

Each request goes through the whole Django stack in this process (middleware, session, view,
template, database) with the test client, as an analyst; N requests a page (default 60, after 5
not timed), and the p50 and p95 are printed with the queries the request made. The baseline is
the cheapest authenticated request (the labels' style sheet: one query) in the same run: the
"× base" column stays comparable on a noisy machine. "flat" is the p95 at the largest corpus
over the p95 at the smallest.

It uses a throwaway database of its own (a temporary embedded PostgreSQL, or "sourcemark_bench"
on the DATABASE_URL server, dropped at the end) and stops by itself.
"""

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_MS = 25.0
FLAT_GOAL = 1.5  # p95 at 100k over p95 at 1k: "flat" allows for noise, not for growth
MENTIONS_ON_PAGE = 80  # the article page: 80 mentions and its claims


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))

    sys.path.insert(0, str(ROOT))
    from bench import inprocess
    from bench.pretag import drop_bench_database

    drop_from = inprocess.setup()
    from django.conf import settings
    from django.db import connections
    from django.test.utils import override_settings

    try:
        with override_settings(STORAGES={**settings.STORAGES, "staticfiles": {
                "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}):
            run(sizes, args.requests)
    finally:
        connections.close_all()
        if drop_from:
            drop_bench_database(drop_from)


def run(sizes: list[int], requests: int) -> None:
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    user = User.objects.create_user("bench", password="bench")
    user.groups.add(Group.objects.get(name="analyst"))
    client = Client()
    client.force_login(user)

    corpus = Corpus()
    results: dict[str, dict[int, tuple[float, float, int]]] = {}
    baselines: dict[int, float] = {}
    for size in sizes:
        started = time.perf_counter()
        corpus.grow_to(size)
        print(f"corpus of {size:,} articles ready in {time.perf_counter() - started:.1f} s", flush=True)
        baseline = timed(client, "/labels.css", requests)
        baselines[size] = baseline[1]
        for name, url in corpus.pages(client).items():
            results.setdefault(name, {})[size] = timed(client, url, requests)
    report(sizes, results, baselines, requests)


class Corpus:
    """The articles of bench/corpus.py in the database, each with its seed's annotations."""

    def __init__(self) -> None:
        from annotation import extraction
        from annotation.models import Mention

        self.size = 0
        self.seeds = self._store(0, 5)  # article i is seed i % 5
        extraction.pretag_many(self._articles(self.seeds), nlp=extraction.get_nlp())
        counts = {pk: Mention.objects.filter(article_id=pk).count() for pk in self.seeds}
        # The article page is measured on a copy of the seed with the most mentions, at the end
        # of the corpus; it is brought to 80 mentions if it has fewer.
        self.richest = max(self.seeds, key=counts.get)
        self.mentions_on_page = counts[self.richest]

    def grow_to(self, size: int) -> None:
        from django.db import connection, transaction

        with transaction.atomic():
            ids = self._store(self.size, size - self.size)
            self._copy_annotations(ids)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    def _store(self, start: int, count: int) -> list[int]:
        """Articles start .. start + count - 1 of bench/corpus.py, pre-tagged and searchable once
        their annotations are copied."""
        from bench.corpus import iter_corpus
        from config.bulk import copy_rows
        from corpus import text as article_text
        from corpus.models import Article, Source
        from django.utils import timezone

        sources = {s.name: s.pk for s in Source.objects.all()}
        now, rows = timezone.now(), []
        for item in iter_corpus(count, start=start):
            if item["source"] not in sources:
                sources[item["source"]] = Source.objects.create(name=item["source"]).pk
            text = article_text.normalise(item["text"])
            body_start, body_end = article_text.body_bounds(text)
            rows.append([item["title"], "", item["published"], item["url"], sources[item["source"]],
                         text, article_text.text_hash(text), body_start, body_end,
                         Article.Status.NEW if start == 0 else Article.Status.PRETAGGED, now, now])
        ids = copy_rows(Article, ["title", "byline", "published", "url", "source", "text",
                                  "text_hash", "body_start", "body_end", "status", "created_at",
                                  "updated_at"], rows)
        self.ids = getattr(self, "ids", []) + ids
        self.size = start + count
        return ids

    @staticmethod
    def _articles(ids: list[int]):
        from corpus.models import Article

        return list(Article.objects.filter(pk__in=ids).order_by("pk"))

    def _copy_annotations(self, ids: list[int]) -> None:
        """Each new article gets its seed's mentions and claims, and its full-text document."""
        from django.db import connection

        from annotation.models import Claim, Mention
        from corpus.models import Article, flush_search_index

        first = self.size - len(ids)
        with connection.cursor() as cursor:
            cursor.execute("CREATE TEMPORARY TABLE bench_copy (article_id int, seed_id int) "
                           "ON COMMIT DROP")
            with cursor.cursor.copy("COPY bench_copy FROM STDIN") as copy:
                for offset, article_id in enumerate(ids):
                    copy.write_row((article_id, self.seeds[(first + offset) % len(self.seeds)]))
            for model in (Mention, Claim):
                columns = [f.column for f in model._meta.concrete_fields if not f.primary_key]
                chosen = ", ".join(
                    "c.article_id" if column == "article_id"
                    else ("(SELECT n.id FROM annotation_mention n WHERE n.article_id = c.article_id"
                          " AND n.start = s.start AND n.\"end\" = s.\"end\" LIMIT 1)")
                    if column == "speaker_mention_id" else f'o."{column}"' for column in columns)
                speaker = ("LEFT JOIN annotation_mention s ON s.id = o.speaker_mention_id"
                           if model is Claim else "")
                cursor.execute(
                    f"INSERT INTO {model._meta.db_table} ({', '.join(map(repr_column, columns))}) "
                    f"SELECT {chosen} FROM bench_copy c JOIN {model._meta.db_table} o "
                    f"ON o.article_id = c.seed_id {speaker}")
        Article.objects.filter(pk__in=ids).index_for_search()
        flush_search_index()  # as the app does once an import's batch is pre-tagged

    def pages(self, client) -> dict[str, str]:
        """The pages measured, by name: the list's first page and one deep in the corpus (found
        by following the list's own links), searches, and the article page."""
        # The last copy of the richest seed: an article at the far end of the corpus.
        kind = self.seeds.index(self.richest)
        article_id = self.ids[self.size - 1 - (self.size - 1 - kind) % len(self.seeds)]
        self._bring_to(article_id, MENTIONS_ON_PAGE)
        return {
            "article list, first page": "/articles/",
            "article list, last page": self._last_page_url(client),
            "search, a word in every article": "/search/?q=said",
            "search, a phrase": '/search/?q="said+on"',
            "search, one article": f"/search/?q=copy+{self.size // 2}",
            "search, by label": "/search/?label=PLACE",
            f"article page ({MENTIONS_ON_PAGE} mentions and claims)": f"/articles/{article_id}/",
        }

    def _bring_to(self, article_id: int, count: int) -> None:
        """Add analyst mentions on words not yet marked until the article has `count`."""
        from annotation.models import Label, Mention
        from corpus.models import Article

        article = Article.objects.get(pk=article_id)
        taken = list(article.mentions.values_list("start", "end"))
        missing = count - len(taken)
        label = Label.objects.get(name="ACTOR")
        new = []
        for match in re.finditer(r"\b[^\W\d_]{4,}\b", article.body):
            start, end = match.start() + article.body_start, match.end() + article.body_start
            if len(new) >= missing:
                break
            if all(end <= a or start >= b for a, b in taken):
                taken.append((start, end))
                new.append(Mention(article=article, start=start, end=end, text=match.group(),
                                   label=label, origin=Mention.Origin.ANALYST,
                                   status=Mention.Status.CONFIRMED))
        Mention.objects.bulk_create(new)

    @staticmethod
    def _last_page_url(client) -> str:
        """The list's last page, reached as a user would: its link to the last page, or by
        following its next links from the first page's last link."""
        html = client.get("/articles/").content.decode()
        links = re.findall(r'href="(\?[^"]*)"[^>]*>\s*(?:Last|last)', html)
        if links:
            return "/articles/" + links[-1].replace("&amp;", "&")
        pages = [int(n) for n in re.findall(r"[?&]page=(\d+)", html)]
        return f"/articles/?page={max(pages)}" if pages else "/articles/"


def repr_column(column: str) -> str:
    return f'"{column}"'


def timed(client, url: str, requests: int) -> tuple[float, float, int]:
    """(p50, p95 in seconds, queries) of GET url."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(5):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    queries = len(captured.captured_queries)  # now: the next request empties the log it reads
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    cuts = statistics.quantiles(times, n=20)
    return statistics.median(times), cuts[18], queries


def report(sizes, results, baselines, requests) -> None:
    smallest, largest = sizes[0], sizes[-1]
    print(f"\np95 (p50) in ms of {requests} requests each, the whole Django stack in one process; "
          f"goal: p95 ≤ {GOAL_MS:.0f} ms at every size, and flat (p95 at {largest:,} / p95 at "
          f"{smallest:,} ≤ {FLAT_GOAL})\n")
    header = (f"{'page':44}" + "".join(f"{f'{size:,} articles':>22}" for size in sizes)
              + f"{'queries':>9}{'flat':>7}  verdict")
    print(header)
    print(f"{'baseline: GET /labels.css (1 query)':44}"
          + "".join(f"{baselines[size] * 1000:>13.2f} ms p95{'':5}" for size in sizes))
    for name, by_size in results.items():
        cells = "".join(f"{by_size[size][1] * 1000:>8.1f} ({by_size[size][0] * 1000:5.1f}) "
                        f"{by_size[size][1] / baselines[size]:4.0f}× " for size in sizes)
        queries = "/".join(sorted({str(by_size[size][2]) for size in sizes}))
        flat = by_size[largest][1] / by_size[smallest][1]
        met = all(by_size[size][1] * 1000 <= GOAL_MS for size in sizes) and flat <= FLAT_GOAL
        print(f"{name:44}{cells}{queries:>9}{flat:7.2f}  {'met' if met else 'MISSED'}")
    print("\n(each cell: p95 (p50) ms, then p95 as a multiple of the baseline's p95 at that size)")


if __name__ == "__main__":
    main()
