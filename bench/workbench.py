"""Server time of the annotation page and of one decision, at 5, 300 and 1,000 mentions.

    .venv/bin/python bench/workbench.py [--repeat N]      (from the project folder)

Each request goes through the whole Django stack in this process (middleware, session, view,
template, database) with the test client; the time is the median of N requests (default 30).
The baseline is the cheapest authenticated request the app serves (the labels' style sheet: one
query), measured in the same run, so the figures read as "how many baseline requests" and stay
comparable on a noisy machine. The query count of each request is printed too: it must not grow
with the mentions.

It uses a throwaway database of its own (a temporary embedded PostgreSQL, or "sourcemark_bench"
on the DATABASE_URL server, dropped at the end) and stops by itself.
"""

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = (5, 300, 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from bench import inprocess
    from bench.pretag import drop_bench_database

    drop_from = inprocess.setup()
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection, connections
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    from annotation.models import Label, Mention
    from corpus.models import Article

    try:
        call_command("migrate", verbosity=0)
        user = User.objects.create_user("bench", password="bench")
        user.groups.add(Group.objects.get(name="analyst"))
        client = Client()
        client.force_login(user)
        labels = list(Label.objects.all())

        def article_with(count: int) -> Article:
            # Sentences of news-like length, one mention each, labels in turn.
            sentence = "Officials in Ben Guerdane said {} fighters had crossed the border overnight. "
            text = "".join(sentence.format(i) for i in range(count))
            article = Article(title=f"{count} mentions", text=text, status=Article.Status.PRETAGGED)
            article.derive_from_text()
            article.save()
            offset, mentions = 0, []
            for i in range(count):
                start = offset + len("Officials in ")
                mentions.append(Mention(article=article, start=start, end=start + len("Ben Guerdane"),
                                        text="Ben Guerdane", label=labels[i % len(labels)]))
                offset += len(sentence.format(i))
            Mention.objects.bulk_create(mentions)
            return article

        def timed(request) -> tuple[float, int]:
            times, queries = [], 0
            for _ in range(args.repeat):
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    response = request()
                    times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.status_code
                queries = len(captured.captured_queries)
            return statistics.median(times), queries

        with override_settings(STORAGES={**settings.STORAGES, "staticfiles": {
                "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}):
            baseline, baseline_queries = timed(lambda: client.get("/labels.css"))
            rows = []
            for size in SIZES:
                article = article_with(size)
                page, page_queries = timed(lambda: client.get(article.get_absolute_url()))
                mentions = iter(article.mentions.order_by("start"))

                def decide():
                    mention = next(mentions, None) or article.mentions.first()
                    action = "confirm" if mention.status != "confirmed" else "reject"
                    return client.post(f"/mentions/{mention.pk}/{action}/", {"version": mention.version},
                                       headers={"HX-Request": "true", "Idempotency-Key": uuid.uuid4().hex})

                decide()  # the first decision also starts the article: measure the ones after
                decision, decision_queries = timed(decide)
                rows.append((size, page, page_queries, decision, decision_queries))

        print(f"\nbaseline (GET /labels.css): {baseline * 1000:.2f} ms, {baseline_queries} queries; "
              f"median of {args.repeat} requests each\n")
        print(f"{'mentions':>8}  {'page ms':>8} {'× base':>7} {'queries':>7}   "
              f"{'decision ms':>11} {'× base':>7} {'queries':>7}")
        for size, page, page_queries, decision, decision_queries in rows:
            print(f"{size:>8}  {page * 1000:8.2f} {page / baseline:7.1f} {page_queries:>7}   "
                  f"{decision * 1000:11.2f} {decision / baseline:7.1f} {decision_queries:>7}")
    finally:
        connections.close_all()
        if drop_from:
            drop_bench_database(drop_from)


if __name__ == "__main__":
    main()
