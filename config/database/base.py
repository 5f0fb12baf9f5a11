"""Django's PostgreSQL backend, with cursors for the few statements every decision runs that
PostgreSQL plans once per connection instead of on every run (config/rows.py), and a health
check that costs no round trip.

Planning a small statement costs PostgreSQL several times what running it does (0.26 ms against
0.07 for a decision's locked read of its mention). The ORM's statements bind their parameters on
the client, as Django's backend does by default, since their text changes from one call to
the next; the plain SQL written for the hot path is the same text every time, so it binds them
on the server, and psycopg prepares a statement once it has seen it `prepare_threshold` times
on a connection (settings.py sets 5, where Django's default turns preparing off; with
DATABASE_PREPARED=0 it stays off, for a pooler in transaction mode that cannot keep a session's
prepared statements). The ORM's cursors bind on the client, and psycopg never prepares theirs.
"""

import select

from django.db.backends.postgresql import base
from django.db.backends.postgresql.psycopg_any import errors
from psycopg import pq


class DatabaseOperations(base.DatabaseOperations):
    def last_executed_query(self, cursor, sql, params):
        # What the query log and a failed test's count show: psycopg keeps no text of a prepared
        # statement's run, so the statement is put together here, as Django does when every
        # cursor binds on the server.
        if isinstance(cursor, base.ServerBindingCursor):
            try:
                return self.compose_sql(sql, params)
            except errors.DataError:
                return None
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
    _server_binding = False

    def prepared_cursor(self):
        """A cursor as cursor() gives one (health check, error wrapping, query log, execute
        wrappers), binding its parameters on the server. For plain SQL only: the ORM's rely on
        client-side binding."""
        self._server_binding = True
        try:
            return self.cursor()
        finally:
            self._server_binding = False

    def is_usable(self):
        """Django's check sends SELECT 1 at the start of each request that reuses a connection.
        A server that ends a connection (restarted, or the backend terminated) says so on the
        socket before closing it, so an idle connection with nothing to read is usable: that
        costs one poll instead of a round trip. A connection psycopg knows to be closed or
        broken is not; one with something to read, or in a transaction, gets Django's check."""
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.info.transaction_status != pq.TransactionStatus.IDLE:
            return super().is_usable()
        try:
            poller = select.poll()
            poller.register(connection.fileno(), select.POLLIN | select.POLLPRI)
            unasked = poller.poll(0)
        except (OSError, ValueError, errors.Error):
            return False
        return not unasked or super().is_usable()

    def create_cursor(self, name=None):
        if not self._server_binding or name is not None:
            return super().create_cursor(name)
        cursor = base.ServerBindingCursor(self.connection)
        # As the parent does for its own cursors: the connection's time zone for timestamptz.
        loader = self.connection.adapters.get_loader(base.TIMESTAMPTZ_OID, base.Format.TEXT)
        if self.timezone != loader.timezone:
            base.register_tzloader(self.timezone, cursor)
        return cursor
