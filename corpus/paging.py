"""Keyset pagination: a page of a long list starts from the row before or after it, found by
the index the list is ordered by, whatever the page's depth. OFFSET would read and drop every
row before the page, and a page count needs COUNT over the whole table on every request; at
100,000 articles either costs more than the page itself."""

from dataclasses import dataclass

from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.http import QueryDict


@dataclass
class Page:
    """One page of rows and where the pages around it start (None when there is none)."""

    rows: list
    after: int | None  # the next page: the rows after this row id
    before: int | None  # the previous page: the rows before this row id
    last: bool  # asked for the last page

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def has_other_pages(self) -> bool:
        return self.after is not None or self.before is not None


def page_of(rows: QuerySet, query: QueryDict, *, size: int = 50, newest_first: bool = False) -> Page:
    """The page of `rows` (a queryset of one table, in the order of its `created_at` and id,
    oldest or newest first) that the query string names: `after=<id>`, `before=<id>`, `last=1`,
    or else the first. An id that names no row gives the first page."""
    table, everything = rows.model._meta.db_table, rows
    after, before = positive(query.get("after")), positive(query.get("before"))
    last = query.get("last") == "1" and after is None and before is None
    key = f'("{table}"."created_at", "{table}"."id")'
    cursor = f'(SELECT c."created_at", c."id" FROM "{table}" c WHERE c."id" = %s)'
    later, earlier = (">", "<") if not newest_first else ("<", ">")
    if after is not None:
        rows = rows.filter(RawSQL(f"{key} {later} {cursor}", [after], output_field=BooleanField()))
    elif before is not None:
        rows = rows.filter(RawSQL(f"{key} {earlier} {cursor}", [before], output_field=BooleanField()))
    backwards = before is not None or last
    ordered = rows.order_by(*(("-created_at", "-pk") if backwards != newest_first
                              else ("created_at", "pk")))
    found = list(ordered[:size + 1])  # one row more says whether there is a page beyond
    more, found = len(found) > size, found[:size]
    if backwards:
        found.reverse()
    if not found:
        if after is not None or before is not None:  # the id names no row (any more)
            return page_of(everything, QueryDict(), size=size, newest_first=newest_first)
        return Page([], None, None, last)
    if backwards:
        return Page(found, after=None if last else found[-1].pk,
                    before=found[0].pk if more else None, last=last)
    return Page(found, after=found[-1].pk if more else None,
                before=found[0].pk if after is not None else None, last=False)


def positive(value: str | None) -> int | None:
    """A query string's id or page number: a whole number above 0 that PostgreSQL takes as an
    integer (beyond, it would refuse an offset), else None."""
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 < number < 2**31 else None
