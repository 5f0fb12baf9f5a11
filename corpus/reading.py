"""An import's rows made ready to store: parsed, their text hashed, their body bounds found.

This is the part of storing that is Python's work alone (about a third of a second per 1,000
news articles), while the rest is mostly waiting for PostgreSQL. A large import is read in a
process of its own, which streams chunks back while the storing process writes the ones before:
the two share the machine's cores, where a thread would share one interpreter lock. A small
import is read in place, as starting a process costs more than it would save.

    chunks = Reader(files, size=1000, fetch=..., total_bytes=...)  # files: [(name, Path or None)]
    for chunk in chunks: ...                                      # lists of Ready, in order
    chunks.close()

The reading process is a fresh interpreter (`python -m corpus.reading`: nothing of a threaded
worker is copied into it) and imports no Django: it gets the import limits from its parent, and
leaves pre-annotated claims out (claims are read, with Django's models, only by
`import_articles --confirmed`, which reads in place). It stops when its input ends (its parent
closed it, or died), and its errors are raised in the parent.
"""

import contextlib
import dataclasses
import pickle
import queue
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path

from corpus import formats
from corpus import text as article_text

# A file list at least this large (in bytes) is read in a process of its own (about 1,100 news
# articles); below, in place.
APART_BYTES = 4 * 1024 * 1024
_LIMITS = ("MAX_FILE_BYTES", "MAX_ARCHIVE_BYTES", "MAX_ZIP_ENTRIES", "MAX_COMPRESSION_RATIO",
           "RATIO_CHECK_BYTES")


@dataclasses.dataclass(slots=True)
class Ready:
    """A parsed row and what storing it takes from its text (nothing for a row in error)."""

    row: formats.Row
    text_hash: str = ""
    bounds: tuple[int, int] = (0, 0)


def prepared(rows: Iterator[formats.Row], size: int) -> Iterator[list[Ready]]:
    """The rows in chunks of `size`, each good row hashed and bounded."""
    rows = iter(rows)
    while chunk := list(islice(rows, size)):
        yield [Ready(row) if row.error else
               Ready(row, article_text.text_hash(row.text), article_text.body_bounds(row.text))
               for row in chunk]


# A file to read: its name as reported, and its path when it is on disk (else `fetch` gives its
# bytes, in the storing process: the kept uploads are read on its own database connection).
File = tuple[str, Path | None]


class Reader:
    """The files' rows, made ready, in chunks of `size`; see the module's docstring."""

    def __init__(self, files: list[File], *, size: int, fetch: Callable[[int], bytes] | None,
                 total_bytes: int, claims: bool = True, apart: bool | None = None):
        self._files, self._size, self._fetch, self._claims = files, size, fetch, claims
        apart = total_bytes >= APART_BYTES and not claims if apart is None else apart
        self._process = _Apart(files, size=size, fetch=fetch) if apart else None

    def __iter__(self) -> Iterator[list[Ready]]:
        if self._process:
            return iter(self._process)
        return prepared(_rows(self._files, self._fetch, claims=self._claims), self._size)

    def close(self) -> None:
        if self._process:
            self._process.close()


def _rows(files: list[File], fetch: Callable[[int], bytes] | None, *, claims: bool) -> Iterator[formats.Row]:
    for index, (name, path) in enumerate(files):
        yield from _parsed(name, path if path is not None else fetch(index), claims=claims)


def _parsed(name: str, content: Path | str | bytes, *, claims: bool) -> Iterator[formats.Row]:
    """One file's rows, from its path on disk or from its bytes (a kept upload)."""
    if isinstance(content, bytes):
        return formats.parse_bytes(content, name=name, claims=claims)
    return formats.parse_file(Path(content), name=name, claims=claims)


class _Apart:
    """The reading process (`python -m corpus.reading`, so nothing of this process is imported
    again there), fed through its stdin and read from its stdout, pickled objects both ways.
    Files go to it a step ahead of its reading (the next when it starts one), sent by a thread,
    so a large upload never blocks this side; chunks come back as they are made. It stops when
    its input ends: at close, or when this process dies."""

    def __init__(self, files: list[File], *, size: int, fetch: Callable[[int], bytes] | None):
        self._files, self._fetch, self._sent, self._done = files, fetch, 0, False
        self._child = subprocess.Popen([sys.executable, "-m", "corpus.reading"], cwd=_ROOT,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._sender = threading.Thread(target=self._send, daemon=True, name="import-reader-feed")
        self._sender.start()
        limits = {name: getattr(formats, name) for name in _LIMITS}  # tests' changes included
        self._outbox.put(([name for name, _ in files], size, limits))
        self._send_next()  # the first two files at once: the child reads while the caller
        self._send_next()  # goes on (keeping the uploads)

    def _send(self) -> None:
        try:
            while (item := self._outbox.get()) is not None:
                pickle.dump(item, self._child.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self._child.stdin.flush()
        except (BrokenPipeError, ValueError):  # the child is gone (its error is read instead)
            pass
        finally:
            with contextlib.suppress(OSError):
                self._child.stdin.close()

    def _send_next(self) -> None:
        if self._sent < len(self._files):
            _, path = self._files[self._sent]
            self._outbox.put(str(path) if path is not None else self._fetch(self._sent))
            self._sent += 1

    def __iter__(self) -> Iterator[list[Ready]]:
        while True:
            try:
                kind, value = pickle.load(self._child.stdout)
            except EOFError:
                raise RuntimeError(f"The process reading the import's files stopped (exit code "
                                   f"{self._child.wait()}) before it had read them all") from None
            if kind == "started":  # the child reads file `value`: give it the one after its next
                self._send_next()
            elif kind == "chunk":
                yield value
            elif kind == "error":
                raise RuntimeError(f"Reading the import's files failed:\n{value}")
            else:
                self._done = True
                return

    def close(self) -> None:
        self._outbox.put(None)
        if not self._done:
            self._child.kill()
        self._sender.join(timeout=10)
        self._child.stdout.close()
        self._child.wait(timeout=10)


_ROOT = Path(__file__).resolve().parent.parent


def _read_apart() -> None:
    """The reading process: its parameters (the files' names, the chunk size, the limits), then
    each file (a path, or the bytes of an upload), come in on stdin; ("started", index),
    ("chunk", [Ready]) and finally ("done", None) or ("error", text) go out on stdout."""
    given, out = sys.stdin.buffer, sys.stdout.buffer

    def send(message) -> None:
        pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()

    try:
        names, size, limits = pickle.load(given)
    except EOFError:
        return
    for name, value in limits.items():
        setattr(formats, name, value)

    def rows() -> Iterator[formats.Row]:
        for index, name in enumerate(names):
            content = pickle.load(given)  # EOFError: the parent closed or died; so do we
            send(("started", index))
            yield from _parsed(name, content, claims=False)

    try:
        for chunk in prepared(rows(), size):
            send(("chunk", chunk))
        send(("done", None))
    except (EOFError, BrokenPipeError):
        return
    except Exception:  # noqa: BLE001 - reported to the parent, which raises it
        send(("error", traceback.format_exc()))


if __name__ == "__main__":
    # Through the module's own name, so what is pickled names corpus.reading.Ready, not __main__'s.
    from corpus import reading

    reading._read_apart()
