import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from config.processes import stop_group
from corpus import importing
from corpus.models import Article


class Command(BaseCommand):
    help = ("Set up and run everything on this machine: migrate, load the five seed articles and "
            "the demo users, start a Dramatiq worker and the web server. Ctrl-C stops it all.")

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--worker-processes", type=int, default=1)

    def handle(self, *args, host, port, web_workers, worker_processes, **options):
        self.stdout.write("Preparing the database…")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        call_command("load_demo", stdout=self.stdout)
        untagged = list(Article.objects.untagged().values_list("pk", flat=True))
        with transaction.atomic():
            importing.enqueue_pretagging(untagged)

        with socket.socket() as probe:
            if probe.connect_ex((host, port)) == 0:
                raise CommandError(f"Something already listens on {host}:{port}: stop it, or run "
                                   f"`make demo PORT={port + 1}`.")
        _stop_on_signals()
        python = sys.executable
        # Children get their own session: Ctrl-C reaches this process only, which then stops
        # them in order (web first, then the worker once it has finished its message).
        children = {
            "worker": subprocess.Popen(
                [python, "-m", "dramatiq", "config.worker", "--processes", str(worker_processes),
                 "--threads", "1"], start_new_session=True),
            "web": subprocess.Popen(
                [python, "-m", "gunicorn", "config.wsgi", "--bind", f"{host}:{port}",
                 "--workers", str(web_workers), "--access-logfile", "-"], start_new_session=True),
        }
        database = "embedded PostgreSQL in " + str(settings.DATA_DIR) if settings.EMBEDDED_DATABASE \
            else "the server in DATABASE_URL"
        try:
            self.wait_until_listening(host, port, children)
            self.stdout.write(self.style.SUCCESS(
                f"\nSourcemark runs at http://{host}:{port}/  (database: {database})\n"
                "Log in as analyst / analyst, reviewer / reviewer or admin / admin. "
                "Ctrl-C stops everything.\n"))
            if untagged:
                self.stdout.write(f"The worker is pre-tagging {len(untagged)} articles…")
            self.watch(children, untagged)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            self.stop(children)

    def wait_until_listening(self, host: str, port: int, children: dict[str, subprocess.Popen]) -> None:
        """Print the address only once it answers."""
        deadline = time.monotonic() + 60
        while True:
            self.check_children(children)
            try:
                socket.create_connection((host, port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise CommandError(f"The web server did not start listening on {host}:{port}.")
                time.sleep(0.2)

    def check_children(self, children: dict[str, subprocess.Popen]) -> None:
        for name, child in children.items():
            if child.poll() is not None:
                hint = " (is the port already in use?)" if name == "web" else ""
                raise CommandError(f"The {name} stopped with exit code {child.returncode}{hint}.")

    def watch(self, children: dict[str, subprocess.Popen], untagged: list[int]) -> None:
        while True:
            self.check_children(children)
            if untagged and not Article.objects.filter(pk__in=untagged).untagged().exists():
                self.stdout.write(self.style.SUCCESS(f"{len(untagged)} articles pre-tagged."))
                untagged = []
            time.sleep(1)

    def stop(self, children: dict[str, subprocess.Popen]) -> None:
        for name in ("web", "worker"):
            stop_group(children[name], timeout=20)
        self.stdout.write("Stopped.")


def _stop_on_signals() -> None:
    """Stop everything on Ctrl-C, `kill` (SIGTERM) or a closed terminal (SIGHUP) alike. A shell
    that starts the demo in the background leaves SIGINT ignored; take it back."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)
