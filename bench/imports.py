"""Import throughput: storing articles (upload → stored) and pre-tagging them (stored → ready).

    .venv/bin/python -m bench.imports [--articles 1000,10000] [--processes P]
        [--skip-pretag | --pretag-all] [--timeout S]                  (from the project folder)

For each size, the corpus of bench/corpus.py (the seed articles repeated, each copy distinct,
about 3,200 characters an article, as .jsonl files of up to 10,000 articles) goes into a fresh
throwaway database of its own (bench/pretag.py's: a temporary embedded PostgreSQL on a Unix
socket, or "sourcemark_bench" on the DATABASE_URL server, dropped at the end); each size runs in
a child process of its own, so nothing carries over from one size to the next. Measured:

- store, in process: `importing.import_files(paths)`, what `import_articles --sync` runs: read
  and parse the files, normalise, hash and dedupe the texts, insert the articles in chunks of
  IMPORT_STORE_CHUNK (1,000) and enqueue their pre-tagging on the real default broker (PostgreSQL).
- store, worker: `importing.start_import(files)` (the upload kept in the database, the batch
  enqueued) and one real Dramatiq worker process (`python -m dramatiq config.worker --processes 1
  --threads 1`, started and ready beforehand) running the `import_batch` actor, timed from the
  call to the batch's status `stored`. One process: more would pre-tag beside it and share its CPU.
- the storing baseline: the same rows (text, title, url, date, hash and body bounds computed
  beforehand) sent with one COPY, psycopg and no Django, into a plain table with the article's
  columns and no index or constraint: what the database itself takes to take the data in. Run
  before and after the in-process store; the mean is used.
- pre-tag: the stored batch's articles enqueued as the import enqueues them (messages of 50 ids)
  to P warm worker processes (bench.pretag.app_processes), timed from the enqueue to the batch's
  status `ready`; the baseline is bare `nlp.pipe` on the same bodies in P forked
  processes (bench.pretag.baseline_processes), before and after, mean. Only the first size is
  pre-tagged unless --pretag-all: 10,000 articles take half an hour on two cores.

Goals: storing 10,000 articles in at most 2.6 s (Label Studio takes 2.6 s, doccano 3.5 s on this
kind of machine), scaled to the size; pre-tagging within 15% of bare spaCy (app / baseline ≤ 1.15).
The run stops by itself after --timeout seconds (stopping its workers and removing its database).
"""

import argparse
import atexit
import dataclasses
import datetime
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench import corpus as bench_corpus
from bench import pretag as bench_pretag  # throwaway database, nlp baselines, P worker processes

ROOT = bench_pretag.ROOT
GOAL_STORE_RATE = 10_000 / 2.6  # articles a second
GOAL_PRETAG_RATIO = 1.15
PLAIN_TABLE = "bench_plain_article"
POLL = 0.01  # seconds between looks at a batch's status


@dataclasses.dataclass
class Result:
    size: int
    stage: str
    seconds: float
    baseline_name: str
    baseline: float
    goal: str
    met: bool
    tokens: int = 0
    notes: str = ""


# =============================================================================================
# Storing
# =============================================================================================

def plain_rows(size: int) -> list[tuple]:
    """The rows the import stores, computed outside any timing, for the COPY baseline."""
    from corpus import text as article_text

    now = datetime.datetime.now(datetime.timezone.utc)
    rows = []
    for item in bench_corpus.iter_corpus(size):
        text = item["text"]
        rows.append((item["title"], "", datetime.date.fromisoformat(item["published"]), item["url"],
                     None, text, article_text.text_hash(text), *article_text.body_bounds(text),
                     "new", None, now, now))
    return rows


def copy_baseline(rows: list[tuple]) -> float:
    """Seconds to COPY the rows into a new plain table with corpus_article's columns and
    nothing else (no index, key or constraint), on a connection of its own."""
    import psycopg
    from django.conf import settings

    database = settings.DATABASES["default"]
    keys = {"NAME": "dbname", "USER": "user", "PASSWORD": "password", "HOST": "host",
            "PORT": "port"}
    params = {libpq: str(database[key]) for key, libpq in keys.items() if database.get(key)}
    columns = ("title, byline, published, url, source_id, text, text_hash, body_start, body_end, "
               "status, batch_id, created_at, updated_at")
    with psycopg.connect(**params) as connection:
        connection.execute(f"DROP TABLE IF EXISTS {PLAIN_TABLE}")
        # INCLUDING STORAGE: the text stored as the article table stores it (uncompressed).
        connection.execute(f"CREATE TABLE {PLAIN_TABLE} "
                           f"(LIKE corpus_article INCLUDING IDENTITY INCLUDING STORAGE)")
        connection.commit()
        start = time.perf_counter()
        with connection.cursor().copy(f"COPY {PLAIN_TABLE} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        connection.commit()
        seconds = time.perf_counter() - start
        connection.execute(f"DROP TABLE {PLAIN_TABLE}")
        connection.commit()
    return seconds


def store_in_process(paths: list[Path]):
    from corpus import importing

    profile = None
    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        profile = cProfile.Profile()
        profile.enable()
    start = time.perf_counter()
    batch = importing.import_files(paths)
    seconds = time.perf_counter() - start
    if profile:
        profile.disable()
        profile.dump_stats(os.environ["BENCH_PROFILE"])
    return seconds, batch


def store_with_worker(paths: list[Path], log: Path):
    """(seconds from start_import to `stored`, seconds start_import took, seconds until the
    worker started on the batch after that, the batch)."""
    from corpus import importing

    files = [(path.name, path.read_bytes()) for path in paths]
    with storing_worker(log):
        start = time.perf_counter()
        batch = importing.start_import(files)
        kept, enqueued_at = time.perf_counter() - start, time.time()
        wait_until_stored(batch.pk)
        seconds = time.perf_counter() - start
    batch.refresh_from_db()
    return seconds, kept, batch.started_at.timestamp() - enqueued_at, batch


@contextmanager
def storing_worker(log: Path) -> Iterator[None]:
    """One Dramatiq worker process with one thread, ready for action, stopped on leaving."""
    from config.processes import stop_group

    command = [sys.executable, "-m", "dramatiq", "config.worker", "--processes", "1",
               "--threads", "1"]
    with log.open("w") as out:
        child = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    try:
        while "ready for action" not in log.read_text():
            if child.poll() is not None:
                sys.exit(f"The worker did not start: see {log}\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield
    finally:
        stop_group(child, timeout=60)


def wait_until_stored(batch_id: int) -> None:
    from corpus.models import ImportBatch

    done = {ImportBatch.Status.STORED, ImportBatch.Status.READY, ImportBatch.Status.FAILED}
    status = ImportBatch.objects.values_list("status", flat=True)
    while status.get(pk=batch_id) not in done:
        time.sleep(POLL)
    if status.get(pk=batch_id) == ImportBatch.Status.FAILED:
        sys.exit(f"The import failed: {ImportBatch.objects.get(pk=batch_id).errors[:3]}")


def queued_messages() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM dramatiq.queue WHERE state = 'queued'")
        return cursor.fetchone()[0]


def purge_queue() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM dramatiq.queue")


def forget_imports() -> None:
    """Back to an empty corpus and an empty queue, so the next store starts as the first did."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE corpus_importbatch, corpus_article, corpus_source CASCADE")
    purge_queue()


def check_stored(batch, size: int, how: str) -> None:
    batch.refresh_from_db()
    if batch.stored != size or batch.failed or batch.duplicates:
        sys.exit(f"{how}: {batch.stored} stored, {batch.duplicates} duplicates, {batch.failed} "
                 f"failed of {size}: {batch.errors[:3]}")


def storing_goal(size: int) -> float:
    return size / GOAL_STORE_RATE


# =============================================================================================
# Pre-tagging
# =============================================================================================

def count_tokens(nlp, bodies: list[str]) -> int:
    """Tokens as the pipeline makes them; the tokenizer alone gives the same count (checked on
    the first bodies) and takes seconds where the whole pipeline would take minutes."""
    sample = bodies[:5]
    if [len(doc) for doc in nlp.pipe(sample)] != [len(doc) for doc in nlp.tokenizer.pipe(sample)]:
        sys.exit("The pipeline changes the tokenizer's tokens: count them with nlp.pipe instead.")
    return sum(len(doc) for doc in nlp.tokenizer.pipe(bodies))


def pretag(batch, size: int, processes: int, folder: Path) -> Result:
    from django.db import connections
    from django.db.models import Max

    from annotation import extraction
    from annotation.models import Mention
    from corpus.models import Article, ImportBatch

    purge_queue()  # the import's own messages: enqueued again once the workers are warm
    articles = list(Article.objects.filter(batch=batch).order_by("pk"))
    ids, bodies = [article.pk for article in articles], [article.body for article in articles]
    nlp = extraction.get_nlp()
    tokens = count_tokens(nlp, bodies)
    connections.close_all()  # before forking
    from corpus.importing import PRETAG_CHUNK

    # The baseline's processes take the texts in the chunks the import's jobs hold.
    before = bench_pretag.baseline_processes(nlp, bodies, processes, PRETAG_CHUNK)
    app = bench_pretag.app_processes(ids, processes, folder / "pretag-workers.log")
    # app_processes times the enqueue to the last article's commit; the batch turns ready after.
    last = Article.objects.filter(batch=batch).aggregate(Max("updated_at"))["updated_at__max"]
    after = bench_pretag.baseline_processes(nlp, bodies, processes, PRETAG_CHUNK)
    batch.refresh_from_db()
    if batch.status != ImportBatch.Status.READY:
        sys.exit(f"Pre-tagged, but the batch is {batch.status!r}, not ready.")
    to_ready = app + (batch.finished_at - last).total_seconds()
    base = (before + after) / 2
    return Result(size, f"pre-tag: {processes} worker processes", to_ready,
                  f"nlp.pipe ×{processes}", base, f"≤ {GOAL_PRETAG_RATIO:.2f}× baseline",
                  to_ready / base <= GOAL_PRETAG_RATIO, tokens=tokens,
                  notes=f"baseline runs {before:.1f} s and {after:.1f} s; {tokens:,} tokens; "
                        f"{Mention.objects.count():,} suggestions written")


# =============================================================================================
# One size, in a process of its own
# =============================================================================================

def measure(size: int, paths: list[Path], *, processes: int, pretagging: bool,
            folder: Path) -> list[Result]:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    load = os.getloadavg()[0]
    results, batch = storing(size, paths, folder)
    if pretagging:
        results.append(pretag(batch, size, processes, folder))
    results[-1].notes += (f"; load average {load:.1f} at the start, "
                          f"{os.getloadavg()[0]:.1f} at the end")
    return results


def storing(size: int, paths: list[Path], folder: Path) -> tuple[list[Result], object]:
    """Both ways of storing, against the COPY baseline; returns them and the in-process batch."""
    rows = plain_rows(size)
    # The first enqueue in a process imports annotation.tasks, and with it spaCy: a web or worker
    # process has it loaded already, so it is imported here, untimed, and reported.
    start = time.perf_counter()
    import annotation.tasks  # noqa: F401
    cold = time.perf_counter() - start
    worker, kept, pickup, batch = store_with_worker(paths, folder / "store-worker.log")
    check_stored(batch, size, "store, worker")
    forget_imports()
    before = copy_baseline(rows)
    in_process, batch = store_in_process(paths)
    after = copy_baseline(rows)
    check_stored(batch, size, "store, in process")
    copy, goal = (before + after) / 2, storing_goal(size)
    return [
        Result(size, "store: import_files, in process", in_process, "COPY", copy, f"≤ {goal:.2f} s",
               in_process <= goal, notes=f"COPY runs {before:.2f} s and {after:.2f} s; "
                                         f"{messages_note(size)}; importing annotation.tasks "
                                         f"(spaCy) before, untimed: {cold:.2f} s"),
        Result(size, "store: start_import + 1 worker", worker, "COPY", copy, f"≤ {goal:.2f} s",
               worker <= goal, notes=f"start_import (upload kept, batch enqueued) {kept:.2f} s, "
                                     f"then {pickup:.2f} s until the worker started on it"),
    ], batch


def messages_note(size: int) -> str:
    from django.conf import settings

    from corpus.importing import PRETAG_CHUNK

    chunk = settings.IMPORT_STORE_CHUNK
    expected = sum(-(-min(chunk, size - i) // PRETAG_CHUNK) for i in range(0, size, chunk))
    return (f"{queued_messages():,} pre-tagging messages enqueued ({expected:,} expected: up to "
            f"{PRETAG_CHUNK} ids each, per stored chunk of {chunk:,})")


def _stop(signum, frame) -> None:
    if os.getpid() != _MAIN_PID:  # a forked baseline process: it dies as it would have
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    # Once: the cleanup that follows (workers, database) must not be cut short by a second signal.
    for each in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):
        signal.signal(each, signal.SIG_IGN)
    reason = "timed out" if signum == signal.SIGALRM else signal.Signals(signum).name
    raise SystemExit(f"bench.imports stopped ({reason}): cleaning up")


_MAIN_PID = os.getpid()


def run_one_size(args: argparse.Namespace) -> None:
    for each in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):
        signal.signal(each, _stop)
    remaining = args.deadline - time.time()
    signal.alarm(max(1, int(remaining)))
    bench_pretag.TIMEOUT = remaining  # its own waits give up no later

    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DEBUG"] = "false"  # DEBUG keeps every query's text: memory and time
    os.environ.pop("DRAMATIQ_BROKER_URL", None)  # the default broker: PostgreSQL
    folder = Path(tempfile.mkdtemp(prefix="sourcemark-bench-imports-"))
    # Before Django starts the embedded server, so it runs after the server's own exit handler.
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    (folder / "corpus").mkdir()
    paths = bench_corpus.write_files(folder / "corpus" / "corpus.jsonl", args.one_size,
                                     per_file=bench_corpus.PER_FILE)
    drop_from = bench_pretag.use_throwaway_database(folder)
    try:
        import django

        django.setup()
        import dramatiq
        from dramatiq_postgres import PostgresBroker

        logging.getLogger("dramatiq").setLevel(logging.WARNING)
        if not isinstance(dramatiq.get_broker(), PostgresBroker):
            sys.exit(f"Not the default PostgreSQL broker: {dramatiq.get_broker()!r}")
        results = measure(args.one_size, paths, processes=args.processes,
                          pretagging=args.pretag, folder=folder)
        args.results.write_text(json.dumps([dataclasses.asdict(result) for result in results]))
    finally:
        from django.db import connections

        connections.close_all()
        if drop_from:
            bench_pretag.drop_bench_database(drop_from)


# =============================================================================================
# The whole run
# =============================================================================================

def run_size(size: int, args: argparse.Namespace, *, pretagging: bool, deadline: float,
             results: Path) -> list[Result]:
    command = [sys.executable, "-m", "bench.imports", "--one-size", str(size),
               "--processes", str(args.processes), "--deadline", str(deadline),
               "--results", str(results), *(["--pretag"] if pretagging else [])]
    child = subprocess.Popen(command, cwd=ROOT)
    try:
        # The child stops itself at the deadline; a minute more for its cleanup.
        child.wait(timeout=max(1.0, deadline - time.time() + 60))
    except subprocess.TimeoutExpired:
        print(f"size {size}: did not stop at the deadline", file=sys.stderr)
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=120)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    if child.returncode != 0 or not results.exists():
        print(f"size {size}: failed (exit status {child.returncode})", file=sys.stderr)
        return []
    return [Result(**each) for each in json.loads(results.read_text())]


def print_table(results: list[Result], processes: int) -> None:
    header = (f"{'size':>7}  {'stage':33} {'seconds':>8} {'articles/s':>10} {'tokens/s':>8}  "
              f"{'baseline':>18} {'ratio':>6}  {'goal':20} met?")
    print(f"\n{header}\n{'-' * len(header)}")
    for r in results:
        tokens = f"{r.tokens / r.seconds:8,.0f}" if r.tokens else f"{'':8}"
        print(f"{r.size:7,}  {r.stage:33} {r.seconds:8.2f} {r.size / r.seconds:10,.0f} {tokens}  "
              f"{r.baseline_name + f' {r.baseline:.2f} s':>18} {r.seconds / r.baseline:5.2f}×  "
              f"{r.goal:20} {'yes' if r.met else 'NO'}")
    print()
    for r in results:
        if r.notes:
            print(f"{r.size:7,}  {r.stage}: {r.notes}")
    print(f"\nstoring goal: 10,000 articles in 2.6 s ({GOAL_STORE_RATE:,.0f} articles/s; Label "
          "Studio 2.6 s, doccano 3.5 s), scaled to the size; ratio = seconds / COPY into a plain "
          "table.\npre-tagging goal: app / bare nlp.pipe ≤ 1.15 (overhead under +15%)."
          f" Cores: {os.cpu_count()}, worker processes: {processes}; load average now "
          f"{os.getloadavg()[0]:.1f} (other work on the machine slows every figure, baselines "
          "too).")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", default="1000,10000",
                        help="sizes, comma-separated (default 1000,10000)")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="pre-tagging worker processes (default: one a core)")
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--skip-pretag", action="store_true", help="measure storing only")
    choice.add_argument("--pretag-all", action="store_true",
                        help="pre-tag every size, not only the first (10,000 take ~30 min "
                             "on 2 cores)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds before the run gives up (default: 20 min, more with "
                             "--pretag-all)")
    # The child process that measures one size.
    parser.add_argument("--one-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pretag", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--results", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        args.sizes = [int(size.replace("_", "")) for size in args.articles.split(",")
                      if size.strip()]
    except ValueError:
        parser.error(f"--articles takes sizes separated by commas (1000,10000): {args.articles!r}")
    if not args.sizes or min(args.sizes) < 1 or args.processes < 1:
        parser.error("sizes and --processes must be at least 1")
    return args


def main() -> None:
    args = parse_args()
    if args.one_size:
        run_one_size(args)
        return
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit("bench.imports stopped (SIGTERM)"))
    pretag_sizes = [] if args.skip_pretag else args.sizes if args.pretag_all else args.sizes[:1]
    # About 0.6 s an article pre-tagged (two baselines and the app, with a margin) on two cores.
    timeout = args.timeout or max(1200.0, 600 + 0.6 * sum(pretag_sizes))
    deadline = time.time() + timeout
    results = []
    with tempfile.TemporaryDirectory(prefix="sourcemark-bench-results-") as folder:
        for size in args.sizes:
            if time.time() >= deadline:
                print(f"size {size}: skipped, the {timeout:.0f} s are spent", file=sys.stderr)
                continue
            results += run_size(size, args, pretagging=size in pretag_sizes, deadline=deadline,
                                results=Path(folder) / f"{size}.json")
    if results:
        print_table(results, args.processes)
    if len({result.size for result in results}) < len(args.sizes):
        sys.exit(1)


if __name__ == "__main__":
    main()
