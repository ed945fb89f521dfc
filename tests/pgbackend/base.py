"""PostgreSQL for the test suite: the same backend, except that flushing the database between
transactional tests (a TRUNCATE of every table) runs with triggers off, as a superuser may.

Production refuses TRUNCATE of the record (migration decisions.0015); the suite's own cleanup
is the one TRUNCATE it must allow, and it runs only here, in the flush's own transaction.
"""

from django.db.backends.postgresql import base


class DatabaseOperations(base.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        statements = super().sql_flush(style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        return ["SET LOCAL session_replication_role = replica;", *statements] if statements else statements


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
