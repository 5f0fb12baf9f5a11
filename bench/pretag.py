"""Pre-tagging throughput: bare spaCy against the app's whole actor path.

    .venv/bin/python bench/pretag.py [--articles N] [--processes P]     (from the project folder)

It builds N articles (default 200) from the five seed texts, each made unique by one added line,
and times, on loaded and warmed pipelines:

- full baseline: `nlp.pipe` over the article bodies and nothing else, with spaCy's components
  exactly as shipped plus the project's rules (`annotation.nlp.load(SPACY_PIPELINE, stock=True)`):
  bare spaCy, the floor the goal is set against.
- same-components baseline: `nlp.pipe` with the pipeline the app loads
  (`annotation.nlp.load(SPACY_PIPELINE)`, whose attribute ruler looks its matches up: the same
  output, faster): what the app adds on top of its own spaCy.
  Each baseline runs before and after the app path and the mean is reported (these machines
  are noisy).
- app: what an import sets off: `enqueue_pretagging` (messages of `PRETAG_CHUNK` ids) on the
  default PostgreSQL broker, then a real Dramatiq worker (in this process, one thread) running
  the `pretag_articles` actor: load the articles, `nlp.pipe`, find claims, write each batch's
  mentions, claims, statuses and Events in one transaction. Timed from the enqueue to the commit
  of the last article.

"overhead" is app seconds / baseline seconds - 1, against each baseline. The goal is under +15%
against the full one. "CPU s" is processor time: this process's, plus that of the embedded
database's processes (not counted with DATABASE_URL). On a busy machine it is steadier than
seconds, which also count the time other programs took the processors; the overhead is given
both ways. With --processes P > 1 it also compares P worker processes (`python -m dramatiq
config.worker --processes P --threads 1`) against P processes running `nlp.pipe` (each
pipeline, before and after, the mean) on the same chunks of bodies, on a second set of N new
articles (timed in seconds only), and gives each worker process's CPU seconds while it
pre-tagged: all of them work.

The project's .data folder is never touched: without DATABASE_URL an embedded PostgreSQL runs in
a temporary folder, removed at exit; with DATABASE_URL a database "sourcemark_bench" is created
on that server (the role needs CREATEDB) and dropped at the end.
"""

import argparse
import atexit
import json
import logging
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "gold" / "seeds.jsonl"
BENCH_DB = "sourcemark_bench"
TIMEOUT = 600  # seconds: the script gives up rather than wait for ever


def seed_texts() -> list[str]:
    if SEEDS.exists():
        return [json.loads(line)["text"] for line in SEEDS.read_text().splitlines() if line.strip()]
    fixture = json.loads((ROOT / "fixtures" / "seed_articles.json").read_text())
    return [item["fields"]["text"] for item in fixture if item["model"] == "corpus.article"]


if os.environ.get("SOURCEMARK_BENCH_WORKER") and __name__ != "__main__":
    # Imported by the Dramatiq worker processes of --processes: load the pipeline before they
    # say "ready", so that loading it is not timed, and let it parse the seed texts once, as the
    # forked baseline processes inherit a pipeline that has (a cold vocabulary makes the first
    # 50 articles about 14% slower; the in-process worker is warm too).
    from annotation import extraction

    for _ in extraction.get_nlp().pipe(seed_texts()):
        pass


def use_throwaway_database(tmp: Path) -> str | None:
    """Point settings at a database of our own; returns the URL to drop it from, if any."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        os.environ["SOURCEMARK_DATA_DIR"] = str(tmp)
        return None
    if urlsplit(url).path.strip("/") == BENCH_DB:
        sys.exit(f"DATABASE_URL already names {BENCH_DB!r}, the database this script drops.")
    drop_bench_database(url, create=True)
    os.environ["DATABASE_URL"] = urlsplit(url)._replace(path="/" + BENCH_DB).geturl()
    return url


def drop_bench_database(url: str, *, create: bool = False) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        if create:
            connection.execute(f'CREATE DATABASE "{BENCH_DB}"')


class Clock:
    """Seconds and CPU seconds (this process, and the embedded database's processes if any)."""

    def __init__(self, database: "psutil.Process | None"):
        self.database = database

    def cpu(self) -> float:
        cpu = time.process_time()
        if self.database is not None:
            # The server's own time, that of the backends it reaped and that of the live ones.
            times = self.database.cpu_times()
            cpu += times.user + times.system + times.children_user + times.children_system
            for child in self.database.children():
                try:
                    cpu += sum(child.cpu_times()[:2])
                except psutil.NoSuchProcess:
                    pass  # it ended meanwhile: counted with the server's reaped children next time
        return cpu

    def time(self, run) -> tuple[float, float, object]:
        """(seconds, CPU seconds, result) of run()."""
        cpu, start = self.cpu(), time.perf_counter()
        result = run()
        return time.perf_counter() - start, self.cpu() - cpu, result


def embedded_server() -> "psutil.Process":
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return psutil.Process(cursor.fetchone()[0]).parent()


def baseline(nlp, bodies: list[str], clock: Clock) -> tuple[float, float, int]:
    return clock.time(lambda: sum(len(doc) for doc in nlp.pipe(bodies, batch_size=32)))


def baselines(pipelines: dict, bodies: list[str], clock: Clock, runs: dict) -> int:
    """One run of each pipeline's baseline, appended to runs[name]; the number of tokens."""
    tokens = 0
    for name, nlp in pipelines.items():
        seconds, cpu, tokens = baseline(nlp, bodies, clock)
        runs.setdefault(name, []).append((seconds, cpu))
    return tokens


_NLP = None  # the pipeline, inherited by the forked processes of baseline_processes


def _tokens(bodies: list[str]) -> int:
    return sum(len(doc) for doc in _NLP.pipe(bodies, batch_size=32))


def baseline_processes(nlp, bodies: list[str], processes: int, chunk: int) -> float:
    global _NLP
    _NLP = nlp
    chunks = [bodies[i:i + chunk] for i in range(0, len(bodies), chunk)]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        pool.map(_tokens, [["Warm up."]] * processes, chunksize=1)
        start = time.perf_counter()
        sum(pool.imap_unordered(_tokens, chunks))
        return time.perf_counter() - start


def enqueue_and_wait(ids: list[int]) -> float:
    """Enqueue like an import does; seconds from the enqueue to the last article's commit."""
    from django.db import transaction
    from django.db.models import Max

    from corpus import importing
    from corpus.models import Article

    since = time.time()
    with transaction.atomic():
        importing.enqueue_pretagging(ids)
    pending = Article.objects.filter(pk__in=ids, status=Article.Status.NEW)
    while pending.exists():
        if time.time() - since > TIMEOUT:
            sys.exit(f"Gave up: {pending.count()} articles still untagged after {TIMEOUT} s.")
        time.sleep(0.2)
    last = Article.objects.filter(pk__in=ids).aggregate(Max("updated_at"))["updated_at__max"]
    return last.timestamp() - since


def app_in_process(broker, ids: list[int], clock: Clock) -> tuple[float, float]:
    """(seconds from the enqueue to the last commit, CPU seconds of the run)."""
    from dramatiq import Worker

    worker = Worker(broker, worker_threads=1)
    worker.start()
    try:
        _, cpu, seconds = clock.time(lambda: enqueue_and_wait(ids))
        return seconds, cpu
    finally:
        worker.stop()


def new_articles(texts: list[str], numbers: range) -> list[int]:
    """Articles made from the seed texts, each made unique by one line; their ids."""
    from corpus.models import Article

    articles = []
    for i in numbers:
        article = Article(title=f"Bench copy {i}", text=f"{texts[i % len(texts)]}\nBench copy {i}.")
        article.derive_from_text()
        articles.append(article)
    Article.objects.bulk_create(articles)
    return [article.pk for article in articles]


def bodies_of(ids: list[int]) -> list[str]:
    from corpus.models import Article

    return [article.body for article in Article.objects.filter(pk__in=ids).order_by("pk")]


def app_processes(ids: list[int], processes: int, log: Path) -> tuple[float, list[float]]:
    """(seconds from the enqueue to the last commit, each worker process's CPU seconds
    meanwhile)."""
    command = [sys.executable, "-m", "dramatiq", "config.worker", "bench.pretag",
               "--processes", str(processes), "--threads", "1"]
    env = {**os.environ, "SOURCEMARK_BENCH_WORKER": "1"}
    with log.open("w") as out:
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    try:
        started = time.time()
        while log.read_text().count("ready for action") < processes:
            if child.poll() is not None or time.time() - started > TIMEOUT:
                sys.exit(f"The worker processes did not start: see {log}\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        # Dramatiq's worker processes are its main process's children (its log lines, formatted
        # by Django's logging settings, do not give their ids).
        workers = psutil.Process(child.pid).children(recursive=True)
        before = [sum(worker.cpu_times()[:2]) for worker in workers]
        seconds = enqueue_and_wait(ids)
        return seconds, [sum(worker.cpu_times()[:2]) - cpu for worker, cpu in zip(workers, before)]
    finally:
        from config.processes import stop_group

        stop_group(child, timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ.pop("DRAMATIQ_BROKER_URL", None)  # the default broker: PostgreSQL
    tmp = Path(tempfile.mkdtemp(prefix="sourcemark-bench-"))
    # Registered before Django starts the embedded server, so it runs after the server's own exit
    # handler has stopped it (atexit is last-in, first-out).
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    drop_from = use_throwaway_database(tmp)

    import django

    django.setup()
    import dramatiq
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    from annotation import extraction
    from annotation import nlp as spacy_nlp
    from annotation.models import Mention
    from config.broker import make_broker
    from corpus.importing import PRETAG_CHUNK

    logging.getLogger("dramatiq").setLevel(logging.WARNING)  # keep the table readable
    previous = dramatiq.get_broker()
    broker = make_broker("", database=settings.DATABASES["default"])
    dramatiq.set_broker(broker)  # before annotation.tasks is imported (by enqueue_pretagging)
    previous.close()
    try:
        call_command("migrate", verbosity=0)
        texts = seed_texts()
        ids = new_articles(texts, range(args.articles))
        bodies = bodies_of(ids)
        clock = Clock(embedded_server() if drop_from is None else None)

        nlp = extraction.get_nlp()  # = annotation.nlp.load(settings.SPACY_PIPELINE), as the actor's
        pipelines = {"full": spacy_nlp.load(settings.SPACY_PIPELINE, stock=True), "same": nlp}
        for each in pipelines.values():  # warm, on the seed texts only, as the workers are
            for _ in each.pipe(texts):
                pass
        runs: dict[str, list[tuple[float, float]]] = {}
        tokens = baselines(pipelines, bodies, clock, runs)
        app, app_cpu = app_in_process(broker, ids, clock)
        suggestions = Mention.objects.count()
        baselines(dict(reversed(pipelines.items())), bodies, clock, runs)
        base = {name: (sum(s for s, _ in pair) / 2, sum(c for _, c in pair) / 2)
                for name, pair in runs.items()}
        titles = {"full": "full pipeline", "same": "app's components"}

        rows = [(f"baseline nlp.pipe, {titles[name]} (runs {runs[name][0][0]:.2f}, "
                 f"{runs[name][1][0]:.2f})", *base[name]) for name in pipelines]
        rows.append(("app: enqueue + Dramatiq worker, 1 thread", app, app_cpu))
        overheads = [(f"1 process, against the {name} baseline", app / base[name][0] - 1,
                      app_cpu / base[name][1] - 1) for name in pipelines]
        worker_cpu = None
        if args.processes > 1:
            # New articles, as a second import would bring: the first ones are pre-tagged now.
            ids = new_articles(texts, range(args.articles, 2 * args.articles))
            bodies = bodies_of(ids)
            connections.close_all()
            runs_p: dict[str, list[float]] = {}
            for name, each in pipelines.items():
                runs_p[name] = [baseline_processes(each, bodies, args.processes, PRETAG_CHUNK)]
            app_p, worker_cpu = app_processes(ids, args.processes, tmp / "worker.log")
            connections.close_all()  # not into the forked processes
            for name, each in reversed(pipelines.items()):
                runs_p[name].append(baseline_processes(each, bodies, args.processes, PRETAG_CHUNK))
            base_p = {name: sum(pair) / 2 for name, pair in runs_p.items()}
            rows += [(f"baseline: {args.processes} nlp.pipe processes, {titles[name]} (runs "
                      f"{runs_p[name][0]:.2f}, {runs_p[name][1]:.2f})", base_p[name], None)
                     for name in pipelines]
            rows.append((f"app: {args.processes} worker processes", app_p, None))
            overheads += [(f"{args.processes} processes, against the {name} baseline",
                           app_p / base_p[name] - 1, None) for name in pipelines]

        print(f"\npipeline {settings.SPACY_PIPELINE}; database "
              f"{'embedded, in ' + str(tmp) if drop_from is None else BENCH_DB + ' on DATABASE_URL'}")
        print(f"articles: {args.articles}   tokens: {tokens}   suggestions written: {suggestions}\n")
        print(f"{'':66} {'seconds':>8} {'CPU s':>8} {'tokens/s':>9}")
        for name, seconds, cpu in rows:
            print(f"{name:66} {seconds:8.2f} {'' if cpu is None else f'{cpu:.2f}':>8} "
                  f"{tokens / seconds:9.0f}")
        print()
        for name, overhead, cpu_overhead in overheads:
            cpu = "" if cpu_overhead is None else f", {cpu_overhead * 100:+.1f}% in CPU time"
            goal = " (goal: under +15%)" if "full" in name else ""
            print(f"overhead ({name}): {overhead * 100:+.1f}%{cpu}{goal}")
        if worker_cpu is not None:
            print(f"worker processes: {len(worker_cpu)}, CPU seconds each while pre-tagging: "
                  + ", ".join(f"{cpu:.1f}" for cpu in worker_cpu))
        if args.processes > 1 and args.processes >= (os.cpu_count() or 1):
            print(f"note: {args.processes} processes on {os.cpu_count()} cores also share them with "
                  "PostgreSQL and this process: the app figure for them is pessimistic.")
    finally:
        broker.close()
        connections.close_all()
        if drop_from:
            drop_bench_database(drop_from)


if __name__ == "__main__":
    main()
