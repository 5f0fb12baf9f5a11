"""Load test: analysts' decisions served by gunicorn as in production, against the goals.

    .venv/bin/python bench/load.py [--clients 10] [--seconds 30] [--max-requests 50000]
                                   [--articles 1000] [--workers 4] [--threads 1] [--profile]
                                   (from the project folder)

What it does, in one run:

1. A throwaway database (as bench/pretag.py: an embedded PostgreSQL in a temporary folder, or
   "sourcemark_load_<pid>" on the DATABASE_URL server, dropped at the end), migrated; the corpus
   of bench/corpus.py imported with the app's own `import_files`; each article pre-tagged in
   bulk (COPY), without spaCy: the gold spans of its seed article become suggestions (2 in 3:
   one to confirm, one with a wrong label to relabel) or spans to add (1 in 3), and the gold
   claims become suggested claims. The corpus's entities exist already (steady state: names are
   known), unless --new-entities.
2. gunicorn serving `config.wsgi` as in production (DEBUG off, collected manifest static files,
   sync workers; --threads T > 1 makes them gthread workers), on 127.0.0.1 only.
3. Each client is an analyst of its own, logged in through the login form (CSRF token and a
   real session), working on articles of its own, so no decision conflicts with another; a 409
   (stale version) would still be counted apart from errors. Every decision is the POST the
   browser sends: HX-Request, a fresh Idempotency-Key, the CSRF token (X-CSRFToken, read from the
   cookie), the `version` field, answered with the fragments; the server checks the version,
   records an Event and the idempotency record.
4. Phases: warm-up; baseline (the cheapest authenticated GET, /labels.css with the session
   cookie: one query) with one client; decisions with one client; baseline again; the same with
   all clients; then RSS of every gunicorn process, and a Dramatiq worker
   (`python -m dramatiq config.worker --processes 1 --threads 1`) that pre-tags a few new
   articles with spaCy, then its RSS. The baselines run before and after each decision phase
   and are pooled (these machines are noisy); figures are also given as ratios to them. While
   a phase runs, pg_stat_activity says what the database's backends do (lock waits included).
5. With --profile, a second gunicorn with one sync worker serves the same app wrapped by this
   module (`bench.load:profiled_wsgi()`): one client sends decisions of each kind, first with
   wall-clock timers around the app's parts (TIMED, wrapped in memory: nothing changes on disk)
   and every SQL statement timed (execute_wrapper), then under cProfile; the tool prints where
   a decision's time goes, part by part and statement by statement.

Clients are threads, one http.client connection each (kept alive when the server allows it;
gunicorn's sync workers close every connection, as they do in production). The client's own
CPU time per request is measured and printed beside the server's (gunicorn's processes and the
database backends of the throwaway database, read with psutil), with how busy the machine was.

Every phase stops at --seconds (or its own duration) or after --max-requests requests,
whichever comes first. gunicorn and the worker are started in sessions of their own and stopped
by their process id at the end, also on Ctrl-C, SIGTERM or SIGHUP. The project's .data folder is
never touched (SOURCEMARK_DATA_DIR, STATIC_ROOT and SECRET_KEY point at a temporary folder).
"""

import argparse
import atexit
import http.client
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "gold" / "seeds.jsonl"
DB_PREFIX = "sourcemark_load_"
PASSWORD = "load-bench-password"
REQUEST_TIMEOUT = 30  # seconds: a request that takes longer is an error
START_TIMEOUT = 120  # seconds for gunicorn or the worker to start
PROFILE_PATH = "/__load_profile__"  # answered by profiled_wsgi itself, never by the app
KINDS = ("confirm", "relabel", "add")
SPACY_LABEL = {"ACTOR": "PERSON", "GROUP": "ORG", "PLACE": "GPE", "FIGURE": "CARDINAL"}
LINKED_LABELS = ("ACTOR", "GROUP", "PLACE")  # annotation.linking.LINKED_LABELS

# The goals of the issue "Performance at scale", and the rivals' published figures for context.
GOAL_ONE_P95_MS = 10
GOAL_RATE = 250
GOAL_MANY_P95_MS = 60
GOAL_WEB_RSS_MB = 250
GOAL_WORKER_RSS_MB = 400
DOCCANO = {"one": "15–20 ms", "rate": "127 req/s", "p95": "122 ms", "rss": "1.4 GB / 9 proc."}
LABEL_STUDIO = {"one": "100–124 ms", "rate": "13 req/s", "p95": "1,448 ms", "rss": "440 MB"}

BROWSER_HEADERS = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) sourcemark-load",
    "Accept": "*/*",
    "Accept-Language": "en-GB,en;q=0.9",
    "Accept-Encoding": "gzip, deflate, br",
}


# ------------------------------------------------------------------------------------------
# Child processes: started in sessions of their own, stopped by pid whatever happens.

_children: list[subprocess.Popen] = []


def start_child(command: list[str], log: Path, env: dict) -> subprocess.Popen:
    with log.open("ab") as out:
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    _children.append(child)
    return child


def stop_child(child: subprocess.Popen, *, timeout: float = 20) -> None:
    """Stop the child's process group (its own session: the child and its workers)."""
    from config.processes import stop_group

    try:
        stop_group(child, timeout=timeout)
    except ProcessLookupError:
        pass
    if child in _children:
        _children.remove(child)


def stop_children() -> None:
    for child in list(reversed(_children)):
        stop_child(child, timeout=10)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_listening(port: int, child: subprocess.Popen, log: Path, *, workers: int) -> None:
    import psutil

    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if child.poll() is not None:
            raise RuntimeError(f"gunicorn stopped (exit code {child.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if len(psutil.Process(child.pid).children()) >= workers:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                probe.request("GET", "/login/")
                answered = probe.getresponse().status
                probe.close()
                if answered == 200:
                    return
        except (OSError, http.client.HTTPException, psutil.NoSuchProcess):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not answer on 127.0.0.1:{port}:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


# ------------------------------------------------------------------------------------------
# The throwaway database.

def use_throwaway_database(tmp: Path) -> tuple[str | None, str, str]:
    """Point DATABASE_URL at a database of our own: (URL to drop it from, or None for the
    embedded server, which goes with the temporary folder; database name; description)."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        from config.embedded import DATABASE_NAME, database_url

        # Started by this process (stopped at its exit); the children get the URL and join it
        # as clients of a server, not as holders of an embedded one.
        os.environ["DATABASE_URL"] = database_url(tmp)
        return None, DATABASE_NAME, f"embedded PostgreSQL in {tmp}"
    import psycopg

    name = f"{DB_PREFIX}{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = urlsplit(url)._replace(path="/" + name).geturl()
    return url, name, f'"{name}" on the DATABASE_URL server ({urlsplit(url).hostname})'


def drop_database(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ------------------------------------------------------------------------------------------
# The corpus, pre-tagged in bulk.

@dataclass
class Task:
    """One decision, as the browser would send it."""

    kind: str  # confirm | relabel | add
    article: int
    mention: int | None  # None for an add
    label: str  # the label sent (relabel, add)
    start: int = 0
    end: int = 0


def gold_seeds() -> list[dict]:
    from bench.pretag import seed_texts

    if SEEDS.exists():
        return [json.loads(line) for line in SEEDS.read_text().splitlines() if line.strip()]
    # Without the gold file: capitalised runs of words as spans, labels in turn; no claims.
    seeds = []
    for text in seed_texts():
        spans = [{"start": m.start(), "end": m.end(), "text": m.group(),
                  "label": ("ACTOR", "GROUP", "PLACE")[i % 3]}
                 for i, m in enumerate(re.finditer(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)*\b", text))]
        seeds.append({"text": text, "spans": spans, "claims": []})
    return seeds


def _without_overlaps(spans: list[dict]) -> list[dict]:
    kept, end = [], -1
    for span in sorted(spans, key=lambda s: (s["start"], s["end"])):
        if span["start"] >= end and span["end"] > span["start"]:
            kept.append(span)
            end = span["end"]
    return kept


def plan_seed(seed: dict, text: str, body: tuple[int, int], labels: list[str]) -> list[dict]:
    """The decisions on one article made from this seed: each gold span in the body, in text
    order, is in turn added, confirmed, or relabelled (then it is suggested with a wrong label)."""
    from corpus.text import snap_to_tokens

    spans = [s for s in _without_overlaps(seed["spans"])
             if body[0] <= s["start"] and s["end"] <= body[1] and text[s["start"]:s["end"]] == s["text"]
             and s["label"] in labels and "\n" not in s["text"]]
    plan = []
    for index, span in enumerate(spans):
        kind = KINDS[(index + 2) % 3]  # add, confirm, relabel, add, …
        if kind == "add":
            # The server grows a selection to whole words: it must still overlap nothing.
            start, end = snap_to_tokens(text, span["start"], span["end"])
            neighbours = spans[max(0, index - 1):index] + spans[index + 1:index + 2]
            if (start, end) != (span["start"], span["end"]) or any(
                    start < n["end"] and n["start"] < end for n in neighbours):
                kind = "confirm"
        wrong = labels[(labels.index(span["label"]) + 1) % len(labels)]
        plan.append({**span, "kind": kind,
                     "suggested": wrong if kind == "relabel" else span["label"]})
    return plan


def load_corpus(articles: int, tmp: Path, *, new_entities: bool) -> tuple[list[list[Task]], dict]:
    """Import `articles` articles of bench/corpus.py and pre-tag them in bulk; each article's
    decisions, in text order, and a few figures about what was loaded."""
    from django.db import connection, transaction
    from django.utils import timezone

    from annotation.linking import normalise_name
    from annotation.models import Claim, Entity, Label, Mention
    from bench.corpus import write_jsonl
    from config.bulk import copy_rows
    from corpus.importing import import_files
    from corpus.models import Article

    started = time.perf_counter()
    batch = import_files([write_jsonl(tmp / "corpus.jsonl", articles)])
    imported = time.perf_counter() - started
    rows = list(Article.objects.filter(batch=batch).order_by("pk")
                .values_list("pk", "url", "text", "body_start", "body_end"))
    if len(rows) != articles:
        sys.exit(f"The import stored {len(rows)} of {articles} articles: {batch.status}")
    labels = {label.name: label.pk for label in Label.objects.all()}
    names = list(labels)
    seeds = gold_seeds()
    now = timezone.now()

    mention_rows, mention_keys, plans = [], [], []
    for pk, url, text, body_start, body_end in rows:
        seed = seeds[int(url.rsplit("/", 1)[1]) % len(seeds)]
        plan = plan_seed(seed, text, (body_start, body_end), names)
        plans.append((pk, plan, seed))
        for span in plan:
            if span["kind"] != "add":
                mention_rows.append([pk, None, span["start"], span["end"], span["text"],
                                     labels[span["suggested"]], SPACY_LABEL.get(span["suggested"], ""),
                                     "model", "suggested", None, None, 1, now, None, False, ""])
                mention_keys.append((pk, span["start"], span["end"]))
    fields = ["article", "annotator", "start", "end", "text", "label", "model_label", "origin",
              "status", "decided_by", "decided_at", "version", "created_at", "entity",
              "entity_accepted", "link_reason"]
    with transaction.atomic():
        ids = dict(zip(mention_keys, copy_rows(Mention, fields, mention_rows)))
        claim_rows = []
        for pk, _, seed in plans:
            for claim in _without_overlaps(seed.get("claims", [])):
                speaker = claim.get("speaker") or ""
                s_start, s_end = claim.get("speaker_start"), claim.get("speaker_end")
                if not speaker or s_start is None or s_end is None or s_end <= s_start:
                    speaker, s_start, s_end = "", None, None
                claim_rows.append([pk, None, claim["start"], claim["end"], claim["text"],
                                   speaker[:300], s_start, s_end, ids.get((pk, s_start, s_end)),
                                   (claim.get("cue") or "")[:50], bool(claim.get("direct")),
                                   "model", "suggested", None, None, None, None, None, 1, now])
        copy_rows(Claim, ["article", "annotator", "start", "end", "text", "speaker", "speaker_start",
                          "speaker_end", "speaker_mention", "cue", "direct", "origin", "status",
                          "decided_by", "decided_at", "credibility", "graded_by", "graded_at",
                          "version", "created_at"], claim_rows)
        Article.objects.filter(batch=batch).update(status=Article.Status.PRETAGGED)
        Article.objects.filter(batch=batch).index_for_search()
        entities = 0
        if not new_entities:
            known = {}
            for seed in seeds:
                for span in seed["spans"]:
                    if span["label"] in LINKED_LABELS and span["label"] in labels:
                        name = span["text"].strip().lstrip("#").rstrip(".,;:!?").replace("_", " ")
                        known.setdefault((span["label"], normalise_name(name)), name)
            Entity.objects.bulk_create(
                [Entity(label_id=labels[label], name=name, keys=[key])
                 for (label, key), name in known.items()], ignore_conflicts=True)
            entities = len(known)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would have, long before a real load
    tasks = [[Task(span["kind"], pk, ids.get((pk, span["start"], span["end"])), span["label"],
                   span["start"], span["end"]) for span in plan] for pk, plan, _ in plans]
    figures = {"articles": len(rows), "mentions": len(mention_rows), "claims": len(claim_rows),
               "entities": entities, "decisions": sum(map(len, tasks)), "import_s": imported,
               "load_s": time.perf_counter() - started,
               "kinds": Counter(task.kind for plan in tasks for task in plan)}
    return tasks, figures


def make_analysts(count: int) -> list[str]:
    """`count` analysts sharing one password (hashed once: hashing is slow on purpose)."""
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, User

    password = make_password(PASSWORD)
    users = User.objects.bulk_create([User(username=f"load-{i}", password=password)
                                      for i in range(count)])
    Group.objects.get(name="analyst").user_set.add(*users)
    return [user.username for user in users]


# ------------------------------------------------------------------------------------------
# The clients.

class Client:
    """One analyst's browser: a session, its cookies and one connection (kept alive when the
    server allows it)."""

    def __init__(self, port: int):
        self.port = port
        self.origin = f"http://127.0.0.1:{port}"
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        self.cookies: dict[str, str] = {}
        self.connects = 0
        self.retries = 0

    def request(self, method: str, path: str, body: str | None = None,
                headers: dict | None = None) -> tuple[int, bytes, http.client.HTTPResponse]:
        sent = {**BROWSER_HEADERS, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        for attempt in (0, 1):
            try:
                if self.connection.sock is None:
                    self.connects += 1
                self.connection.request(method, path, body=body, headers=sent)
                response = self.connection.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection the server closed meanwhile: sent again, as a browser
                # does (a decision keeps its idempotency key, so it cannot apply twice).
                self.connection.close()
                if attempt:
                    raise
                self.retries += 1
        for cookie in response.msg.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, data, response

    def login(self, username: str) -> None:
        status, body, _ = self.request("GET", "/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        if status != 200 or token is None:
            raise RuntimeError(f"GET /login/ answered {status} without a CSRF token")
        form = urlencode({"csrfmiddlewaretoken": token.group(1).decode(), "username": username,
                          "password": PASSWORD, "next": ""})
        status, _, response = self.request("POST", "/login/", form, {
            "Content-Type": "application/x-www-form-urlencoded", "Origin": self.origin,
            "Referer": f"{self.origin}/login/"})
        if status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"Logging in as {username} answered {status}, not a redirect with a session")

    def open(self, article: int) -> None:
        """The article page, as the analyst opens it before deciding."""
        status, _, _ = self.request("GET", f"/articles/{article}/")
        if status != 200:
            raise RuntimeError(f"GET /articles/{article}/ answered {status}")

    def decide(self, task: Task) -> tuple[int, bytes]:
        if task.kind == "add":
            path = f"/articles/{task.article}/mentions/add/"
            form = {"start": task.start, "end": task.end, "label": task.label}
        else:
            path = f"/mentions/{task.mention}/{task.kind}/"
            form = {"version": 1, **({"label": task.label} if task.kind == "relabel" else {})}
        status, body, _ = self.request("POST", path, urlencode(form), {
            "HX-Request": "true", "HX-Current-URL": f"{self.origin}/articles/{task.article}/",
            "HX-Target": "messages", "Idempotency-Key": str(uuid.uuid4()),
            "X-CSRFToken": self.cookies.get("csrftoken", ""), "Origin": self.origin,
            "Content-Type": "application/x-www-form-urlencoded"})
        if status == 200 and b"hx-swap-oob" not in body:
            status = -200  # a 200 without the fragments is an error too
        return status, body

    def baseline(self) -> tuple[int, bytes]:
        status, body, _ = self.request("GET", "/labels.css")
        return status, body

    def close(self) -> None:
        self.connection.close()


class Budget:
    """Requests left in a phase, shared by its clients."""

    def __init__(self, requests: int):
        self.left = requests
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True


STOP = threading.Event()  # set on Ctrl-C: every client stops after its request


@dataclass
class Phase:
    name: str
    clients: int
    elapsed: float = 0.0
    # (kind, latency s, status, response bytes) of every request
    samples: list[tuple[str, float, int, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ran_out: int = 0  # clients that had no decisions left
    cpu: dict = field(default_factory=dict)  # seconds: client, web, database, machine busy

    def latencies(self, kind: str | None = None, ok_only: bool = True) -> list[float]:
        return [latency for k, latency, status, _ in self.samples
                if (kind is None or k == kind) and (not ok_only or 200 <= status < 300)]

    def size(self, kind: str | None = None) -> float:
        sizes = [size for k, _, _, size in self.samples if kind is None or k == kind]
        return sum(sizes) / len(sizes) if sizes else 0.0

    @property
    def count(self) -> int:
        return len(self.samples)

    @property
    def ok(self) -> int:
        return sum(1 for _, _, status, _ in self.samples if 200 <= status < 300)

    @property
    def conflicts(self) -> int:
        return sum(1 for _, _, status, _ in self.samples if status == 409)

    @property
    def failed(self) -> int:
        return self.count - self.ok - self.conflicts

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0


def percentile(values: list[float], q: float) -> float:
    """Nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class CpuMeter:
    """CPU seconds of this process (the clients), of the web server's processes and of the
    database backends serving the throwaway database, and of the whole machine, over a phase.
    Processes that start during the phase count from zero; a poll every quarter of a second
    keeps the CPU of processes that end before the phase does. Each poll also reads what the
    database's backends are doing (pg_stat_activity): running a statement, waiting for a lock
    (and in which statement), or idle in a transaction while the web process works."""

    def __init__(self, web: "psutil.Process | None", database: tuple | None, dsn: str | None = None):
        import psutil

        self.psutil = psutil
        self.web = web
        self.database = database  # (postmaster process, database name) when it is local
        self.dsn = dsn

    def _processes(self) -> dict[tuple[str, int], "psutil.Process"]:
        found = {}
        if self.web is not None:
            try:
                for process in [self.web, *self.web.children(recursive=True)]:
                    found[("web", process.pid)] = process
            except self.psutil.NoSuchProcess:
                pass
        if self.database is not None:
            postmaster, name = self.database
            try:
                for process in postmaster.children():
                    try:
                        if f" {name} " in " ".join(process.cmdline()) + " ":
                            found[("database", process.pid)] = process
                    except (self.psutil.NoSuchProcess, self.psutil.AccessDenied):
                        pass
            except self.psutil.NoSuchProcess:
                pass
        return found

    def _activity(self) -> None:
        if self.activity is None:
            return
        rows = self.activity.execute(
            "SELECT state, wait_event_type, wait_event, query FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND state IN ('active', 'idle in transaction')").fetchall()
        self.polls += 1
        for state, wait_type, wait_event, query in rows:
            if state == "active" and wait_type == "Lock":
                self.states["waiting for a lock"] += 1
                self.waits[_statement(query)] += 1
            else:
                self.states[state] += 1

    def _poll(self) -> None:
        self._activity()
        for key, process in self._processes().items():
            try:
                times = process.cpu_times()
                cpu = times.user + times.system
            except (self.psutil.NoSuchProcess, self.psutil.AccessDenied):
                continue
            first = self.first.setdefault(key, cpu if self.starting else 0.0)
            self.last[key] = max(cpu, first)

    def __enter__(self) -> "CpuMeter":
        self.activity, self.polls, self.states, self.waits = None, 0, Counter(), Counter()
        if self.dsn:
            import psycopg

            self.activity = psycopg.connect(self.dsn, autocommit=True)
        self.first, self.last, self.starting = {}, {}, True
        self._poll()
        self.starting = False
        self.machine = self.psutil.cpu_times()
        self.client = time.process_time()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        started = time.thread_time()
        while self.running:
            time.sleep(0.25)
            try:
                self._poll()
            except Exception:  # the run is being stopped (the database goes): stop reading
                self.running = False
        self.own = time.thread_time() - started  # not the clients': taken off theirs

    def __exit__(self, *exc) -> None:
        self.running = False
        self.thread.join()
        self._poll()
        client = time.process_time() - self.client
        machine = self.psutil.cpu_times()
        idle = lambda t: t.idle + getattr(t, "iowait", 0.0)  # noqa: E731
        busy = (sum(machine) - idle(machine)) - (sum(self.machine) - idle(self.machine))
        spent = defaultdict(float)
        for (role, _), cpu in self.last.items():
            spent[role] += cpu - self.first[(role, _)]
        self.result = {"client": client - self.own, "web": spent["web"],
                       "database": spent["database"] if self.database else None, "machine": busy,
                       "polls": self.polls, "states": self.states, "waits": self.waits}
        if self.activity is not None:
            self.activity.close()


def run_phase(name: str, clients: list[Client], work, *, seconds: float, budget: int,
              meter: CpuMeter | None = None) -> Phase:
    """Every client runs `work(client, index)` (one request: (kind, status, body) or None when
    it has nothing left) until the time or the budget runs out."""
    phase = Phase(name, len(clients))
    lock = threading.Lock()
    shared = Budget(budget)
    ready = threading.Barrier(len(clients) + 1)
    deadline = [0.0]

    def loop(index: int, client: Client) -> None:
        samples, errors = [], []
        ready.wait()
        try:
            while not STOP.is_set() and time.perf_counter() < deadline[0] and shared.take():
                started = time.perf_counter()
                try:
                    done = work(client, index)
                except (OSError, http.client.HTTPException) as error:
                    done = ("error", 0, repr(error).encode())
                if done is None:
                    with lock:
                        phase.ran_out += 1
                    return
                kind, status, body = done
                samples.append((kind, time.perf_counter() - started, status, len(body)))
                if not (200 <= status < 300 or status == 409) and len(errors) < 3:
                    errors.append(f"{kind}: {status} {body[:300]!r}")
        finally:
            with lock:
                phase.samples.extend(samples)
                phase.errors.extend(errors)

    for client in clients:
        # A connection kept alive since the last phase may be closed by the server any moment
        # (gthread closes idle ones after 2 s, in its own time): every phase starts afresh.
        client.close()
    threads = [threading.Thread(target=loop, args=(i, c), daemon=True) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    meter = meter.__enter__() if meter else None
    started = time.perf_counter()
    deadline[0] = started + seconds
    ready.wait()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    except KeyboardInterrupt:
        STOP.set()
        if meter:
            meter.running = False
        raise
    phase.elapsed = time.perf_counter() - started
    if meter:
        meter.__exit__(None, None, None)
        phase.cpu = meter.result
    return phase


def decisions_work(queues: list[list[Task]]):
    """Each client takes its own next decision (the article pages are not loaded: only
    decisions are timed)."""
    positions = [0] * len(queues)

    def work(client: Client, index: int):
        queue = queues[index]
        if positions[index] >= len(queue):
            return None
        task = queue[positions[index]]
        positions[index] += 1
        status, body = client.decide(task)
        return task.kind, status, body

    return work


def baseline_work(client: Client, index: int):
    status, body = client.baseline()
    return "baseline", status, body


# ------------------------------------------------------------------------------------------
# Memory.

def rss_of(process) -> dict:
    info = process.memory_full_info()
    return {"pid": process.pid, "rss": info.rss, "uss": info.uss, "pss": getattr(info, "pss", 0)}


def mb(value: float) -> str:
    return f"{value / 1024 / 1024:.0f} MB"


def measure_worker(env: dict, tmp: Path, *, first: int, count: int) -> dict:
    """A Dramatiq worker as production runs it pre-tags `count` new articles with spaCy; the RSS
    of its processes once it has."""
    import psutil

    from bench.corpus import write_jsonl
    from corpus.importing import import_files
    from corpus.models import Article

    batch = import_files([write_jsonl(tmp / "pretag.jsonl", count, start=first)])  # stub broker
    ids = list(Article.objects.filter(batch=batch).values_list("pk", flat=True))
    log = tmp / "worker.log"
    worker = start_child([sys.executable, "-m", "dramatiq", "config.worker", "--processes", "1",
                          "--threads", "1"], log, env)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while "Worker process is ready for action" not in log.read_text(errors="replace"):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"The Dramatiq worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        master = psutil.Process(worker.pid)
        before = {p.pid: rss_of(p) for p in [master, *master.children(recursive=True)]}
        started = time.perf_counter()
        command = subprocess.run(
            [sys.executable, "manage.py", "pretag", *[f"--article={pk}" for pk in ids]],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        seconds = time.perf_counter() - started
        tagged = Article.objects.filter(pk__in=ids).exclude(status=Article.Status.NEW).count()
        if command.returncode != 0 or tagged != len(ids):
            raise RuntimeError(f"Pre-tagging through the worker failed ({tagged}/{len(ids)} tagged): "
                     f"{command.stdout[-1500:]}{command.stderr[-1500:]}\n{log.read_text()[-2000:]}")
        after = [rss_of(p) for p in [master, *master.children(recursive=True)]]
        return {"master": after[0], "workers": after[1:], "before": before, "seconds": seconds,
                "articles": len(ids)}
    finally:
        stop_child(worker, timeout=30)


# ------------------------------------------------------------------------------------------
# Profiling: a WSGI wrapper for one gunicorn worker (`bench.load:profiled_wsgi()`).

def _kind_of(method: str, path: str) -> str | None:
    if method == "POST":
        action = path.rstrip("/").rsplit("/", 1)[-1]
        return action if action in KINDS else None
    return "baseline" if path == "/labels.css" else None


def profiled_wsgi():
    """config.wsgi's application, for gunicorn in the profile phase only
    (`bench.load:profiled_wsgi()`). Each request's SQL statements are timed (execute_wrapper),
    and so are the functions of TIMED (wall clock, the outermost call), each statement noted
    with the functions it ran in. GET /__load_profile__/cprofile runs decisions under cProfile
    from then on (one profile per kind); /dump writes requests.json and <kind>.prof into
    SOURCEMARK_LOAD_PROFILE; /reset forgets everything. Nothing of the app is changed on disk:
    the functions are wrapped in this process's memory."""
    import cProfile
    import functools
    import gc
    import importlib

    import django

    django.setup()
    from django.db import connection

    out = Path(os.environ["SOURCEMARK_LOAD_PROFILE"])
    state = {"cprofile": False, "requests": [], "profiles": {}}
    stack: list[str] = []
    parts: dict[str, float] = defaultdict(float)
    cpu: dict[str, float] = defaultdict(float)  # the same parts in this thread's CPU time
    queries: list = []

    top_level = {label for label, _, top in TIMED if top}

    def timer(label: str, function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            # A nested or recursive call: the outermost one counts; so does a top-level part
            # inside another (views._tally, in the answer's context of an add).
            if label in stack or (label in top_level and top_level.intersection(stack)):
                return function(*args, **kwargs)
            stack.append(label)
            started, used = time.perf_counter(), time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                parts[label] += time.perf_counter() - started
                cpu[label] += time.thread_time() - used
                stack.pop()
        return timed

    missing = []
    for label, target, _ in TIMED:
        module, _, path = target.partition(":")
        *parents, name = path.split(".")
        try:
            owner = importlib.import_module(module)
            for parent in parents:
                owner = getattr(owner, parent)
            raw = vars(owner).get(name) or getattr(owner, name)
        except (ImportError, AttributeError):
            missing.append(target)  # the code changed: that part is not timed
            continue
        if isinstance(raw, classmethod):
            setattr(owner, name, classmethod(timer(label, raw.__func__)))
        else:
            setattr(owner, name, timer(label, raw))

    # After the wrapping: the middleware chain keeps the methods it finds when it is built.
    from config.wsgi import application

    # Python's garbage collections, timed as a part of their own wherever they happen.
    collecting = {}

    def on_gc(phase, info):
        if phase == "start":
            collecting["started"] = time.perf_counter(), time.thread_time()
        elif "started" in collecting:
            started, used = collecting.pop("started")
            label = f"— garbage collection (generation {info['generation']})"
            parts[label] += time.perf_counter() - started
            cpu[label] += time.thread_time() - used

    gc.callbacks.append(on_gc)

    def sql_timer(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append((sql, time.perf_counter() - started, list(stack)))

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(PROFILE_PATH):
            command = path[len(PROFILE_PATH):].strip("/")
            if command == "reset":
                state.update(cprofile=False, requests=[], profiles={})
            elif command == "cprofile":
                state["cprofile"] = True
            elif command == "dump":
                out.mkdir(parents=True, exist_ok=True)
                (out / "requests.json").write_text(json.dumps(
                    {"missing": missing, "requests": state["requests"]}))
                for kind, profile in state["profiles"].items():
                    profile.dump_stats(str(out / f"{kind}.prof"))
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        kind = _kind_of(environ.get("REQUEST_METHOD", ""), path)
        if kind is None:
            return application(environ, start_response)
        if state["cprofile"]:
            profile = state["profiles"].setdefault(kind, cProfile.Profile())
            profile.enable()
            try:
                return application(environ, start_response)
            finally:
                profile.disable()
        parts.clear()
        cpu.clear()
        queries.clear()
        started, used = time.perf_counter(), time.thread_time()
        with connection.execute_wrapper(sql_timer):
            result = application(environ, start_response)
        state["requests"].append({"kind": kind, "seconds": time.perf_counter() - started,
                                  "cpu": time.thread_time() - used, "parts": dict(parts),
                                  "part_cpu": dict(cpu), "queries": list(queries)})
        return result

    return app


# What a decision's time is spent on: (label, function wrapped, top level?). The top-level
# ones do not overlap; a sub-part ("—") lies within the top-level part above it.
TIMED = [
    ("session + user load (request.user)", "django.contrib.auth:get_user", True),
    ("— DB connection health check",
     "config.database.base:DatabaseWrapper.is_usable", False),
    ("CSRF check", "django.middleware.csrf:CsrfViewMiddleware.process_view", True),
    ("permission check (has_perm)", "django.contrib.auth.models:PermissionsMixin.has_perm", True),
    ("layer lookup (in_layer: article, assignment)", "annotation.layers:_article_owner_and_held",
     True),
    ("layer lookup (in_layer: article, assignment)", "annotation.layers:held_by", True),
    ("view: get_object_or_404 (mention, article)", "annotation.views:get_object_or_404", True),
    ("idempotency: the stored answer (a retry only)", "annotation.idempotency:_stored", True),
    ("the decision (decisions._change / add)", "annotation.decisions:_change", True),
    ("the decision (decisions._change / add)", "annotation.decisions:add", True),
    ("— lock the mention, check its version", "annotation.decisions:_locked", False),
    ("— overlap check", "annotation.decisions:_refuse_overlap", False),
    ("— Event.record", "annotation.models:Event.record", False),
    ("— the writes: mention, Events, learning (rows.write)", "config.rows:write", False),
    ("— linking.link (entity)", "annotation.linking:link", False),
    ("— linking.link (entity)", "annotation.linking:link_unsaved", False),
    ("— claim_decisions.relink_speakers", "annotation.claim_decisions:relink_speakers", False),
    ("— start_work (article status)", "annotation.decisions:start_work", False),
    ("answer: article status refresh", "corpus.models:Article.refresh_from_db", True),
    ("view: the label named (views._label_named)", "annotation.views:_label_named", True),
    ("answer: labels, counts (views._tally)", "annotation.views:_tally", True),
    ("answer: an add's list and neighbours (views._around)", "annotation.views:_around", True),
    ("answer: context (views._page_context)", "annotation.views:_page_context", True),
    ("answer: template rendering", "django.template.response:SimpleTemplateResponse.render", True),
    ("idempotency: record insert", "annotation.idempotency:_record", True),
    ("transaction commit", "django.db.backends.base.base:BaseDatabaseWrapper.commit", True),
]
REST = "the rest (URL, middleware, request, headers)"


def _statement(sql: str) -> str:
    """A statement shortened to what tells it apart: table, joins, condition."""
    sql = re.sub(r"\s+", " ", sql).replace('"', "")
    if sql.startswith("SELECT"):
        match = re.match(r"SELECT (.*?) FROM (\S+)(.*)$", sql)
        if match:
            rest = match.group(3)
            joins = re.findall(r"JOIN (\S+)", rest.split(" WHERE ")[0])
            where = rest.split(" WHERE ", 1)[1] if " WHERE " in rest else rest.strip()
            sql = (f"SELECT {match.group(2)}" + (f" +{'+'.join(joins)}" if joins else "")
                   + (f" WHERE {where}" if where else ""))
    elif sql.startswith("INSERT"):
        sql = " ".join(sql.split(" ")[:3])
    elif sql.startswith("UPDATE"):
        match = re.match(r"UPDATE (\S+) SET (.*?) WHERE (.*)$", sql)
        if match:
            columns = ", ".join(re.findall(r"(\w+) = ", match.group(2)))
            sql = f"UPDATE {match.group(1)} SET {columns} WHERE {match.group(3)}"
    sql = re.sub(r"\b[a-z_]+\.([a-z_]+)\b", r"\1", sql)  # column names without their table
    return sql if len(sql) <= 130 else sql[:129] + "…"


def profile_report(out: Path) -> list[str]:
    import pstats

    dumped = json.loads((out / "requests.json").read_text())
    requests = dumped["requests"]
    by_kind = defaultdict(list)
    for request in requests:
        by_kind[request["kind"]].append(request)
    kinds = [kind for kind in KINDS if by_kind.get(kind)]
    lines = [f"{'':12} {'requests':>8} {'mean ms':>8} {'p50 ms':>7} {'CPU ms':>7} {'queries':>8} "
             f"{'in SQL ms':>9} {'SQL %':>6}"]
    for kind in (*kinds, "baseline"):
        rows = by_kind.get(kind)
        if not rows:
            continue
        seconds = [r["seconds"] for r in rows]
        mean = sum(seconds) / len(rows)
        sql = sum(q[1] for r in rows for q in r["queries"]) / len(rows)
        used = sum(r["cpu"] for r in rows) / len(rows)
        lines.append(f"{kind:12} {len(rows):8} {mean * 1000:8.2f} {percentile(seconds, .5) * 1000:7.2f} "
                     f"{used * 1000:7.2f} {sum(len(r['queries']) for r in rows) / len(rows):8.1f} "
                     f"{sql * 1000:9.2f} "
                     f"{sql / mean * 100:5.0f}%")
    lines.append("(CPU: this worker's own, the wait for PostgreSQL left out; in SQL: inside "
                 "cursor.execute, the round trip included; psycopg's BEGIN rides on a "
                 "transaction's first statement; COMMIT and the health check are not Django "
                 "statements: they are timed below)")

    # Each part: ms per decision, statements in it and their ms, per kind.
    labels = list(dict.fromkeys(label for label, _, _ in TIMED))
    # Garbage collections, within whichever part they happened in (as the "—" lines).
    labels += sorted({label for request in requests for label in request["parts"]
                      if label.startswith("— garbage collection")})
    top = {label for label, _, top_level in TIMED if top_level}
    lines.append("\nWhere the time goes, ms per decision (wall clock; CPU = the worker's own; "
                 "q = SQL statements in it, SQL = their ms):")
    lines.append(f"{'':48}" + "".join(f" {kind:>8} {'CPU':>5} {'q':>5} {'SQL':>6}" for kind in kinds))
    for label in [*labels, REST, "whole request"]:
        cells, seen = [], False
        for kind in kinds:
            rows = by_kind[kind]
            if label == "whole request":
                spent = sum(r["seconds"] for r in rows)
                used = sum(r["cpu"] for r in rows)
                inside = [q for r in rows for q in r["queries"]]
            elif label == REST:
                spent = sum(r["seconds"] - sum(s for l, s in r["parts"].items() if l in top)
                            for r in rows)
                used = sum(r["cpu"] - sum(s for l, s in r["part_cpu"].items() if l in top)
                           for r in rows)
                inside = [q for r in rows for q in r["queries"] if not top.intersection(q[2])]
            else:
                spent = sum(r["parts"].get(label, 0.0) for r in rows)
                used = sum(r["part_cpu"].get(label, 0.0) for r in rows)
                inside = [q for r in rows for q in r["queries"] if label in q[2]]
            seen = seen or spent > 0
            cells.append(f" {spent / len(rows) * 1000:8.2f} {used / len(rows) * 1000:5.2f} "
                         f"{len(inside) / len(rows):5.1f} "
                         f"{sum(q[1] for q in inside) / len(rows) * 1000:6.2f}")
        if seen:
            lines.append(f"{label:48}" + "".join(cells))
    if dumped["missing"]:
        lines.append(f"(not in the code as it is now, so not timed: {', '.join(dumped['missing'])})")

    for kind in kinds:
        rows = by_kind[kind]
        statements = defaultdict(lambda: [0, 0.0, ""])
        for request in rows:
            for sql, seconds, stack in request["queries"]:
                entry = statements[sql]
                entry[0] += 1
                entry[1] += seconds
                entry[2] = entry[2] or (stack[-1].lstrip("— ").split(" (")[0] if stack else "")
        ranked = sorted(statements.items(), key=lambda item: -item[1][1])
        lines.append(f"\nSQL of one {kind}, by time (n a decision; where: the innermost part above):")
        lines.append(f"{'n':>5} {'ms':>6}  {'where':24} statement")
        for sql, (n, seconds, where) in ranked[:14]:
            lines.append(f"{n / len(rows):5.1f} {seconds / len(rows) * 1000:6.2f}  {where[:24]:24} "
                         f"{_statement(sql)}")
        if len(ranked) > 14:
            rest = ranked[14:]
            lines.append(f"{sum(n for _, (n, _, _) in rest) / len(rows):5.1f} "
                         f"{sum(s for _, (_, s, _) in rest) / len(rows) * 1000:6.2f}  "
                         f"{'':24} ({len(rest)} other statements)")

    profiles = [str(out / f"{kind}.prof") for kind in kinds if (out / f"{kind}.prof").exists()]
    if profiles:
        merged = pstats.Stats(*profiles)
        total = sum(len(by_kind[kind]) for kind in kinds)  # the cProfile pass has as many
        lines.append(f"\nUnder cProfile, the functions with the most own time, all kinds "
                     f"(ms per decision, inflated by the profiler):")
        ranked = sorted(merged.stats.items(), key=lambda item: -item[1][2])[:15]
        for (filename, line, function), (_, calls, own, cumulative, _) in ranked:
            where = filename.split("site-packages/")[-1].replace(str(ROOT) + "/", "")
            lines.append(f"{own / total * 1000:7.2f} own {cumulative / total * 1000:7.2f} cum "
                         f"{calls / total:7.1f} calls  {where}:{line} {function}")
    return lines


def run_profile(env: dict, tmp: Path, user: str, tasks: list[Task], *, per_kind: int,
                out: Path | None = None) -> list[str]:
    """One sync worker (the wrapper keeps one request's figures at a time), one client. The
    figures and cProfile's files go to `out` (kept), or to a folder removed at the end."""
    out = out or tmp / "profile"
    port = free_port()
    log = tmp / "gunicorn-profile.log"
    command = [sys.executable, "-m", "gunicorn", "--error-logfile", str(log),
               "bench.load:profiled_wsgi()", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    server = start_child(command, log, {**env, "SOURCEMARK_LOAD_PROFILE": str(out)})
    try:
        wait_listening(port, server, log, workers=1)
        client = Client(port)
        client.login(user)
        by_kind = defaultdict(list)
        for task in tasks:
            by_kind[task.kind].append(task)
        per_kind = min([per_kind] + [max(1, (len(by_kind[kind]) - 10) // 2) for kind in KINDS])
        client.open(tasks[0].article)
        for kind in KINDS:  # warm-up, forgotten by the reset
            for task in by_kind[kind][:10]:
                client.decide(task)
            del by_kind[kind][:10]
        for _ in range(20):
            client.baseline()
        client.request("GET", f"{PROFILE_PATH}/reset")
        for timed_pass in ("timers", "cprofile"):
            if timed_pass == "cprofile":
                client.request("GET", f"{PROFILE_PATH}/cprofile")
            # Interleaved as the load sends them, so that no kind has the machine to itself.
            batch = [by_kind[kind][i] for i in range(per_kind) for kind in KINDS]
            for kind in KINDS:
                del by_kind[kind][:per_kind]
            for task in batch:
                status, body = client.decide(task)
                if status != 200:
                    raise RuntimeError(f"profile: {task.kind} answered {status}: {body[:300]!r}")
            if timed_pass == "timers":
                for _ in range(per_kind):
                    client.baseline()
        client.request("GET", f"{PROFILE_PATH}/dump")
        client.close()
    finally:
        stop_child(server)
    return profile_report(out)


# ------------------------------------------------------------------------------------------

def database_processes(name: str):
    """The postmaster of the throwaway database when it runs on this machine, to read the CPU
    of its backends; None for a server elsewhere."""
    import psutil
    from django.db import connection

    host = connection.settings_dict.get("HOST") or ""
    if host and not host.startswith("/") and host not in ("127.0.0.1", "localhost", "::1"):
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        postmaster = psutil.Process(pid).parent()
        if "postgres" not in postmaster.name():
            return None
        return postmaster, name
    except (psutil.NoSuchProcess, psutil.AccessDenied, AttributeError):
        return None


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10, help="concurrent analysts (default 10)")
    parser.add_argument("--seconds", type=float, default=30, help="length of the concurrent load")
    parser.add_argument("--max-requests", type=int, default=50_000,
                        help="at most this many requests in any one phase (default 50,000)")
    parser.add_argument("--articles", type=int, default=1000,
                        help="corpus size, from bench/corpus.py (default 1,000)")
    parser.add_argument("--workers", type=int, default=4,
                        help="gunicorn workers (default 4, as README's Production runs it)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per gunicorn worker; above 1 the workers are gthread")
    parser.add_argument("--single-seconds", type=float, default=10,
                        help="length of the one-client decision phase (default 10)")
    parser.add_argument("--baseline-seconds", type=float, default=5,
                        help="length of each baseline run (before and after each decision phase)")
    parser.add_argument("--pretag", type=int, default=5,
                        help="articles the Dramatiq worker pre-tags before its RSS is read")
    parser.add_argument("--no-worker", action="store_true", help="skip the Dramatiq worker's RSS")
    parser.add_argument("--profile", action="store_true",
                        help="also profile decisions in one gunicorn worker (SQL and cProfile)")
    parser.add_argument("--profile-decisions", type=int, default=100,
                        help="decisions of each kind in each profile pass (default 100)")
    parser.add_argument("--profile-out", type=Path, default=None,
                        help="keep the profile's files in this folder (requests.json and "
                             "<kind>.prof, for pstats or snakeviz)")
    parser.add_argument("--new-entities", action="store_true",
                        help="do not create the corpus's entities first: the first confirmation "
                             "of each name creates it, and clients race to")
    args = parser.parse_args()
    if args.clients < 1 or args.seconds <= 0 or args.max_requests < 1 or args.workers < 1:
        parser.error("--clients, --seconds, --max-requests and --workers must be positive")
    args.profile = args.profile or args.profile_out is not None
    reserved = 24 if args.profile else 0
    if args.articles < 2 * (args.clients + 1) + reserved:
        parser.error(f"--articles must be at least {2 * (args.clients + 1) + reserved} "
                     "for this many clients")

    sys.path.insert(0, str(ROOT))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)

    tmp = Path(tempfile.mkdtemp(prefix="sourcemark-load-"))
    # atexit runs last-in, first-out: the folder goes last, after the embedded server (if any)
    # has stopped, and the children are stopped before either.
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    broker_url = os.environ.get("DRAMATIQ_BROKER_URL")
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SOURCEMARK_DATA_DIR": str(tmp),  # never the project's .data
        "STATIC_ROOT": str(tmp / "static"),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_COOKIES": "false",
    })
    drop_from, database_name, database_text = use_throwaway_database(tmp)
    atexit.register(stop_children)
    # The web server and the worker use the broker production would (the default: PostgreSQL, in
    # the throwaway database); this process imports articles without enqueueing anything.
    child_env = dict(os.environ)
    if broker_url is None:
        child_env.pop("DRAMATIQ_BROKER_URL", None)
    else:
        child_env["DRAMATIQ_BROKER_URL"] = broker_url
    os.environ["DRAMATIQ_BROKER_URL"] = "stub://"

    import django

    django.setup()
    import psutil
    from django.core.management import call_command
    from django.db import connections

    try:
        print(f"database: {database_text}")
        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        users = make_analysts(args.clients + 2)
        tasks, corpus = load_corpus(args.articles, tmp, new_entities=args.new_entities)
        database = database_processes(database_name)
        connections.close_all()
        print(f"corpus: {corpus['articles']} articles (imported in {corpus['import_s']:.1f} s), "
              f"{corpus['mentions']} suggested mentions, {corpus['claims']} claims, "
              f"{corpus['entities']} entities; {corpus['decisions']} decisions to take "
              f"({', '.join(f'{n} {k}' for k, n in sorted(corpus['kinds'].items()))}); "
              f"loaded in {corpus['load_s']:.1f} s, set up in {time.perf_counter() - started:.1f} s")

        # Articles: the profile's, then one share per client (the one-client phase is a client
        # of its own), each client's decisions in article and text order.
        profile_tasks = [t for plan in tasks[:reserved] for t in plan]
        shares = args.clients + 1
        rest = tasks[reserved:]
        queues = [[t for plan in rest[i::shares] for t in plan] for i in range(shares)]
        single_queue, many_queues = queues[0], queues[1:]

        port = free_port()
        log = tmp / "gunicorn.log"
        command = [sys.executable, "-m", "gunicorn", "--error-logfile", str(log), "config.wsgi",
                   "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers)]
        if args.threads > 1:
            command += ["--worker-class", "gthread", "--threads", str(args.threads)]
        server = start_child(command, log, child_env)
        wait_listening(port, server, log, workers=args.workers)
        web = psutil.Process(server.pid)
        print(f"gunicorn: {'gunicorn ' + ' '.join(command[5:])} (pid {server.pid}); "
              f"{args.clients} clients on 127.0.0.1:{port}")

        single = Client(port)
        many = [Client(port) for _ in range(args.clients)]
        login_started = time.perf_counter()
        errors = []

        def log_in(client: Client, user: str, first: list[Task]) -> None:
            try:
                client.login(user)
                client.open(first[0].article)
            except Exception as error:  # reported below, the run stops
                errors.append(f"{user}: {error}")

        logins = [threading.Thread(target=log_in, args=(c, u, q))
                  for c, u, q in zip([single, *many], users, [single_queue, *many_queues])]
        for thread in logins:
            thread.start()
        for thread in logins:
            thread.join()
        if errors:
            sys.exit("Logging in failed: " + "; ".join(errors))
        print(f"logged in {len(logins)} analysts in {time.perf_counter() - login_started:.1f} s "
              "(the login form, PBKDF2 included)")

        # Warm-up: every worker process answers decisions and the baseline before anything is
        # measured (templates, code paths, connections); these decisions are not counted.
        warm = [queue[:15] for queue in many_queues]
        for queue in many_queues:
            del queue[:15]
        warm_up = run_phase("warm-up", many, decisions_work(warm), seconds=60, budget=10**6)
        run_phase("warm-up", many, baseline_work, seconds=2, budget=100 * args.clients)

        cpu = lambda: CpuMeter(web, database, os.environ["DATABASE_URL"])  # noqa: E731
        print("measuring: one client …", flush=True)
        base1 = [run_phase("baseline 1", [single], baseline_work, seconds=args.baseline_seconds,
                           budget=args.max_requests, meter=cpu())]
        one = run_phase("decisions 1", [single], decisions_work([single_queue]),
                        seconds=args.single_seconds, budget=args.max_requests, meter=cpu())
        base1.append(run_phase("baseline 1", [single], baseline_work,
                               seconds=args.baseline_seconds, budget=args.max_requests, meter=cpu()))
        print(f"measuring: {args.clients} clients …", flush=True)
        baseN = [run_phase("baseline N", many, baseline_work, seconds=args.baseline_seconds,
                           budget=args.max_requests, meter=cpu())]
        load = run_phase("decisions N", many, decisions_work(many_queues), seconds=args.seconds,
                         budget=args.max_requests, meter=cpu())
        baseN.append(run_phase("baseline N", many, baseline_work, seconds=args.baseline_seconds,
                               budget=args.max_requests, meter=cpu()))
        connects = sum(c.connects for c in [single, *many])
        retries = sum(c.retries for c in [single, *many])
        for client in [single, *many]:
            client.close()

        web_rss = [rss_of(p) for p in [web, *web.children(recursive=True)]]
        stop_child(server)
        recorded = server_records(warm_up.ok + one.ok + load.ok)

        # A failure from here on is reported beside the figures already measured.
        worker, failures = None, []
        if not args.no_worker:
            print(f"measuring: a Dramatiq worker pre-tagging {args.pretag} new articles …", flush=True)
            try:
                worker = measure_worker(child_env, tmp, first=args.articles, count=args.pretag)
            except (Exception, subprocess.TimeoutExpired) as error:
                failures.append(f"the Dramatiq worker's RSS was not measured: {error}")

        profile_lines = []
        if args.profile:
            print("profiling: one gunicorn worker, one client …", flush=True)
            try:
                profile_lines = run_profile(child_env, tmp, users[-1], profile_tasks,
                                            per_kind=args.profile_decisions,
                                            out=args.profile_out)
            except Exception as error:
                log = tmp / "gunicorn-profile.log"
                failures.append(f"the profile failed: {error!r}\n"
                                f"{log.read_text()[-3000:] if log.exists() else ''}")

        report(args, corpus, database_text, command, base1, one, baseN, load, web_rss, worker,
               connects, retries, recorded)
        if profile_lines:
            print("\nWhere a decision's time goes (one gunicorn worker, one client, after warm-up)\n")
            print("\n".join(profile_lines))
        for failure in failures:
            print(f"\nFAILED: {failure}")
    except KeyboardInterrupt:
        STOP.set()
        print("\nInterrupted: stopping gunicorn and the worker.", file=sys.stderr)
    finally:
        stop_children()
        connections.close_all()
        if drop_from:
            drop_database(drop_from, database_name)


def _autogroup() -> bool:
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return False


def server_records(answered: int) -> str:
    """What the server stored for the decisions answered 200: one idempotency record each, and
    the Events."""
    from django.db.models import Count

    from annotation.models import Event, IdempotencyRecord, Mention

    records = IdempotencyRecord.objects.count()
    events = dict(Event.objects.values_list("action").annotate(n=Count("pk")).order_by())
    decided = Mention.objects.exclude(status=Mention.Status.SUGGESTED).count()
    shown = ", ".join(f"{n} {action}" for action, n in sorted(events.items()))
    return (f"server side: {answered} decisions answered 200 → {records} idempotency records, "
            f"{decided} decided mentions; events: {shown}")


def report(args, corpus, database_text, command, base1, one, baseN, load, web_rss, worker,
           connects, retries, recorded) -> None:
    # The runs before and after pooled: percentiles of all their requests, requests per second
    # over their time together.
    b1_p95 = percentile([v for p in base1 for v in p.latencies()], 0.95)
    b1_p50 = percentile([v for p in base1 for v in p.latencies()], 0.50)
    bN_rate = sum(p.ok for p in baseN) / sum(p.elapsed for p in baseN)
    bN_p95 = percentile([v for p in baseN for v in p.latencies()], 0.95)
    one_p95 = percentile(one.latencies(), 0.95)
    load_p95 = percentile(load.latencies(), 0.95)
    workers_rss = [p for p in web_rss[1:]]
    web_max = max(p["rss"] for p in workers_rss)
    spacy_rss = max((p["rss"] for p in worker["workers"]), default=0) if worker else None

    def ok(passed: bool) -> str:
        return "yes" if passed else "NO"

    rows = [
        ("one decision, 1 client: p95", ms(one_p95), f"≤ {GOAL_ONE_P95_MS} ms",
         ok(one_p95 * 1000 <= GOAL_ONE_P95_MS), f"{one_p95 / b1_p95:.1f}", DOCCANO["one"],
         LABEL_STUDIO["one"]),
        *[(f"  {kind}: p95", ms(percentile(one.latencies(kind), 0.95)), f"≤ {GOAL_ONE_P95_MS} ms",
           ok(percentile(one.latencies(kind), 0.95) * 1000 <= GOAL_ONE_P95_MS),
           f"{percentile(one.latencies(kind), 0.95) / b1_p95:.1f}", "", "")
          for kind in KINDS if one.latencies(kind)],
        (f"{args.clients} clients, {load.elapsed:.0f} s: decisions/s", f"{load.rate:.0f} /s",
         f"≥ {GOAL_RATE} /s", ok(load.rate >= GOAL_RATE), f"{load.rate / bN_rate:.2f}",
         DOCCANO["rate"], LABEL_STUDIO["rate"]),
        (f"{args.clients} clients: p95", ms(load_p95), f"≤ {GOAL_MANY_P95_MS} ms",
         ok(load_p95 * 1000 <= GOAL_MANY_P95_MS), f"{load_p95 / bN_p95:.1f}", DOCCANO["p95"],
         LABEL_STUDIO["p95"]),
        (f"{args.clients} clients: errors (409 apart)", f"{load.failed} (409: {load.conflicts})",
         "0", ok(load.failed == 0 and one.failed == 0), "", "", ""),
        (f"web process RSS after the load, max", mb(web_max), f"≤ {GOAL_WEB_RSS_MB} MB",
         ok(web_max <= GOAL_WEB_RSS_MB * 2**20 and web_rss[0]["rss"] <= GOAL_WEB_RSS_MB * 2**20),
         "", DOCCANO["rss"], LABEL_STUDIO["rss"]),
    ]
    if worker:
        rows.append(("Dramatiq worker with spaCy: RSS", mb(spacy_rss), f"≤ {GOAL_WORKER_RSS_MB} MB",
                     ok(spacy_rss <= GOAL_WORKER_RSS_MB * 2**20), "", "", ""))
    heads = ("", "measured", "goal", "met", "× base", "doccano 1.8.4", "Label Studio")
    widths = [max(len(str(row[i])) for row in [heads, *rows]) for i in range(len(heads))]
    print(f"\n{'=' * 100}\nSourcemark under load: {'gunicorn ' + ' '.join(command[5:])}; {database_text}")
    print(f"corpus {corpus['articles']} articles, {corpus['mentions']} mentions, {corpus['claims']} "
          f"claims; {os.cpu_count()} cores shared by clients, server and database\n")
    for row in [heads, *rows]:
        print("  ".join(str(cell).ljust(width) if i == 0 else str(cell).rjust(width)
                        for i, (cell, width) in enumerate(zip(row, widths))))
    print(f"\n× base: p95 over the baseline's p95, decisions/s over the baseline's requests/s, under "
          f"the same clients. Baseline: GET /labels.css with the session cookie (1 query), runs "
          f"before and after each phase pooled:\n"
          f"  1 client:  p50 {ms(b1_p50)}, p95 {ms(b1_p95)} (runs: "
          f"{', '.join(ms(percentile(p.latencies(), 0.95)) for p in base1)})\n"
          f"  {args.clients} clients: {bN_rate:.0f} req/s, p95 {ms(bN_p95)} (runs: "
          f"{', '.join(f'{p.rate:.0f} req/s p95 {ms(percentile(p.latencies(), 0.95))}' for p in baseN)})")

    print(f"\nLatency per kind (ms){'':14} {'n':>6} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} "
          f"{'answer':>9}")
    for phase in (one, load):
        for kind in (*KINDS, None):
            values = phase.latencies(kind)
            if not values:
                continue
            label = f"{'1 client' if phase is one else f'{args.clients} clients'}: {kind or 'all'}"
            print(f"  {label:33} {len(values):6} {percentile(values, .5) * 1000:7.1f} "
                  f"{percentile(values, .95) * 1000:7.1f} {percentile(values, .99) * 1000:7.1f} "
                  f"{max(values) * 1000:7.1f} {phase.size(kind) / 1024:6.1f} KB")
    for phase in (one, load):
        if phase.errors:
            print(f"  errors in '{phase.name}' (first ones): " + " | ".join(phase.errors))
        if phase.ran_out:
            print(f"  {phase.ran_out} clients of '{phase.name}' had no decisions left: raise --articles")
    print(f"  {recorded}")
    print(f"  one client: {one.rate:.0f} decisions/s over {one.elapsed:.1f} s; "
          f"{args.clients} clients: {load.ok} decisions in {load.elapsed:.1f} s "
          f"(cap {args.max_requests} a phase)")

    print(f"\nCPU per request (ms; this machine's {os.cpu_count()} cores; 'machine' is every "
          f"process, others' benchmarks included):")
    print(f"  {'phase':20} {'requests':>8} {'client':>7} {'web':>7} {'database':>9} {'sum':>7} "
          f"{'cores: ours':>12} {'machine':>8}")
    for phase in (*base1[:1], one, *baseN[:1], load):
        if not phase.cpu or not phase.count:
            continue
        c = phase.cpu
        database = c["database"]
        total = c["client"] + c["web"] + (database or 0)
        print(f"  {phase.name:20} {phase.count:8} {c['client'] / phase.count * 1000:7.2f} "
              f"{c['web'] / phase.count * 1000:7.2f} "
              f"{'n/a' if database is None else f'{database / phase.count * 1000:.2f}':>9} "
              f"{total / phase.count * 1000:7.2f} {total / phase.elapsed:12.2f} "
              f"{c['machine'] / phase.elapsed:8.2f}")
    if _autogroup() and max(p.cpu.get("machine", 0) / p.elapsed for p in (one, load) if p.cpu) > 1.5:
        print("  note: the machine was busy with other programs, and its scheduler shares the cores "
              "between sessions (sched_autogroup): gunicorn's workers, in one session, get about "
              "one busy session's share, however many they are. Read the ratios and the CPU per "
              "decision rather than the seconds.")
    c = load.cpu
    if c and load.count:
        print(f"  client overhead: {c['client'] / load.count * 1000:.2f} ms CPU a decision, "
              f"{c['client'] / load.elapsed * 100:.0f}% of one core during the load "
              f"({connects} connections opened, {retries} requests resent on a closed keep-alive)")
        total = c["client"] + c["web"] + (c["database"] or 0)
        if total:
            print(f"  server CPU (web + database) a decision: "
                  f"{(c['web'] + (c['database'] or 0)) / load.count * 1000:.2f} ms: at most "
                  f"{os.cpu_count() / ((c['web'] + (c['database'] or 0)) / load.count):.0f} "
                  f"decisions/s on {os.cpu_count()} idle cores")

    print("\nDatabase backends of the throwaway database, mean over the phase (pg_stat_activity "
          "every 0.25 s):")
    for phase in (one, load):
        c = phase.cpu
        if not c or not c.get("polls"):
            continue
        states = ", ".join(f"{n / c['polls']:.2f} {state}" for state, n in c["states"].most_common())
        print(f"  {phase.name:12} {states or 'none busy'}")
        waits = sum(c["waits"].values())
        for statement, n in c["waits"].most_common(4):
            print(f"    {n / waits * 100:3.0f}% of lock waits in: {statement}")

    print("\nMemory (RSS; USS = the process's own pages):")
    print(f"  gunicorn master  pid {web_rss[0]['pid']}: RSS {mb(web_rss[0]['rss'])}, "
          f"USS {mb(web_rss[0]['uss'])}")
    for p in workers_rss:
        print(f"  gunicorn worker  pid {p['pid']}: RSS {mb(p['rss'])}, USS {mb(p['uss'])}")
    all_rss = sum(p["rss"] for p in web_rss)
    all_pss = sum(p["pss"] for p in web_rss)
    if worker:
        for p in [worker["master"], *worker["workers"]]:
            role = "dramatiq master" if p is worker["master"] else "dramatiq worker"
            print(f"  {role:16} pid {p['pid']}: RSS {mb(p['rss'])}, USS {mb(p['uss'])}")
        idle = max(worker["before"].values(), key=lambda p: p["rss"] if p["pid"] != worker["master"]["pid"] else 0)
        print(f"  (before its first job, the worker process's RSS was {mb(idle['rss'])}; "
              f"it pre-tagged {worker['articles']} new articles in "
              f"{worker['seconds']:.1f} s through the broker, spaCy loaded)")
        all_rss += sum(p["rss"] for p in [worker["master"], *worker["workers"]])
        all_pss += sum(p["pss"] for p in [worker["master"], *worker["workers"]])
    print(f"  all app processes: RSS {mb(all_rss)} summed ({mb(all_pss)} PSS), over "
          f"{len(web_rss) + (1 + len(worker['workers']) if worker else 0)} processes "
          "(PostgreSQL not counted)")


if __name__ == "__main__":
    main()
