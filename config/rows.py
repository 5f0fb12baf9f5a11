"""Model instances from plain SQL, for the few statements every decision runs.

Building a query with the ORM costs a decision more than PostgreSQL takes to answer it (see
bench/load.py --profile). These statements are written once, from the models' own metadata
(tables, columns), and their rows become instances as the ORM's would (`Model.from_db`): the
same fields, the same converters, the fields left out deferred (read when first used).
"""

import functools
from collections.abc import Sequence

from django.db import connection
from django.db.models import Model


def cursor():
    """The cursor for these statements: one that has PostgreSQL plan each once per connection
    (config/database), or Django's own under another backend."""
    prepared = getattr(connection, "prepared_cursor", None)
    return prepared() if prepared is not None else connection.cursor()


class Columns:
    """A model's columns in a SELECT under a table alias, and the instance made from them."""

    def __init__(self, model: type[Model], alias: str, *, without: Sequence[str] = ()):
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if f.name not in without]
        self.attnames = [f.attname for f in self.fields]
        self.pk = self.attnames.index(model._meta.pk.attname)  # where a row holds its id
        self.sql = ", ".join(f'{alias}."{f.column}"' for f in self.fields)
        # Fields whose database value needs turning into Python's (none of psycopg's plain types).
        self.converters = [(index, field, field.from_db_value)
                           for index, field in enumerate(self.fields) if hasattr(field, "from_db_value")]

    def __len__(self) -> int:
        return len(self.fields)

    def make(self, values: Sequence) -> Model:
        values = list(values)
        for index, field, convert in self.converters:
            values[index] = convert(values[index], None, connection)
        return self.model.from_db(connection.alias, self.attnames, values)


@functools.cache
def columns(model: type[Model], alias: str) -> Columns:
    """Columns(model, alias), made once, when first asked: for modules that cannot make theirs
    when imported (the model's app is not loaded yet, or the model is a setting's)."""
    return Columns(model, alias)


def split(row: Sequence, *parts: Columns) -> list[Sequence]:
    """A joined row cut into each model's values, in the order of `parts`."""
    out, at = [], 0
    for part in parts:
        out.append(row[at:at + len(part)])
        at += len(part)
    return out


# A statement and its parameters (%s placeholders), for `write`.
Statement = tuple[str, list]


def insert(model: type[Model], instances: Sequence[Model], *, ids: bool = False) -> None:
    """What `model.objects.bulk_create(instances)` writes, in one plain INSERT; with `ids`, the
    instances get theirs (RETURNING), else they are not read back (rows nothing refers to once
    written: a decision's Events)."""
    if not instances:
        return
    sql, params = insert_sql(model, instances)
    pk = model._meta.pk.column
    with cursor() as db_cursor:
        db_cursor.execute(f'{sql} RETURNING "{pk}"' if ids else sql, params)
        if ids:  # PostgreSQL returns them in the order of VALUES
            for instance, (new_id,) in zip(instances, db_cursor.fetchall(), strict=True):
                instance.pk = new_id
                instance._state.adding, instance._state.db = False, connection.alias


def insert_sql(model: type[Model], instances: Sequence[Model]) -> Statement:
    """The INSERT of `insert` (at least one instance), without RETURNING."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    values = [[f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
              for instance in instances]
    row = f"({', '.join(['%s'] * len(fields))})"
    return (f"""INSERT INTO {model._meta.db_table} ({', '.join(f'"{f.column}"' for f in fields)})
                VALUES {', '.join([row] * len(instances))}""",
            [value for row_values in values for value in row_values])


def update(instance: Model, names: Sequence[str]) -> None:
    """What `instance.save(update_fields=names)` writes, in one plain UPDATE (no signals: the
    project sends none)."""
    write(update_sql(instance, names))


def update_sql(instance: Model, names: Sequence[str]) -> Statement:
    fields = [instance._meta.get_field(name) for name in names]
    return (f"""UPDATE {instance._meta.db_table} SET {', '.join(f'"{f.column}" = %s' for f in fields)}
                WHERE "{instance._meta.pk.column}" = %s""",
            [*(f.get_db_prep_save(f.pre_save(instance, False), connection) for f in fields),
             instance.pk])


def write(*statements: Statement | None) -> None:
    """Statements that change rows and read nothing back (None: nothing to write), sent as one:
    each the body of a WITH of a single statement. PostgreSQL runs every one of them, all on the
    same snapshot, so none may depend on another's rows; one round trip and one plan instead
    of one each."""
    statements = [statement for statement in statements if statement is not None]
    if not statements:
        return
    if len(statements) == 1:
        sql, params = statements[0]
    else:
        bodies = ", ".join(f"w{i} AS ({body})" for i, (body, _) in enumerate(statements))
        sql = f"WITH {bodies} SELECT 1"
        params = [param for _, own in statements for param in own]
    with cursor() as db_cursor:
        db_cursor.execute(sql, params)
