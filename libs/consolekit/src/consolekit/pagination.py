"""Server-side pagination: a page request parsed from the query, and a page to render."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import Query, Request

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
MAX_PAGE_NUMBER = 1_000_000


@dataclass(frozen=True)
class PageRequest:
    """Which page of a list, one-based, and how many rows per page."""

    number: int = 1
    size: int = DEFAULT_PAGE_SIZE

    @property
    def offset(self) -> int:
        """How many rows come before this page."""
        return (self.number - 1) * self.size


async def page_request(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE_NUMBER, description="Page number, from 1")] = 1,
    per_page: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Rows per page")
    ] = DEFAULT_PAGE_SIZE,
) -> PageRequest:
    """FastAPI dependency: ``?page=`` and ``?per_page=``, bounded (out of bounds is a 422)."""
    return PageRequest(number=page, size=per_page)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows and where it sits in the whole list."""

    items: Sequence[T]
    request: PageRequest
    total: int

    @property
    def number(self) -> int:
        """This page's number."""
        return self.request.number

    @property
    def pages(self) -> int:
        """How many pages the list has (at least one, even when empty)."""
        return max(1, -(-self.total // self.request.size))

    @property
    def has_previous(self) -> bool:
        """Whether a page comes before this one."""
        return self.number > 1

    @property
    def has_next(self) -> bool:
        """Whether a page comes after this one."""
        return self.number < self.pages

    @property
    def first_row(self) -> int:
        """One-based position of this page's first row (0 when the page is empty)."""
        return self.request.offset + 1 if self.items else 0

    @property
    def last_row(self) -> int:
        """One-based position of this page's last row (0 when the page is empty)."""
        return self.request.offset + len(self.items)

    def numbers(self, *, around: int = 2) -> list[int | None]:
        """Page numbers to link: the first, the last and ``around`` either side of this one;
        None stands for a gap."""
        shown = {1, self.pages} | set(
            range(max(1, self.number - around), min(self.pages, self.number + around) + 1)
        )
        numbers: list[int | None] = []
        previous = 0
        for number in sorted(shown):
            if number - previous > 1:
                numbers.append(None)
            numbers.append(number)
            previous = number
        return numbers


def page_url(request: Request, number: int) -> str:
    """The current path and query with ``page`` set to ``number``."""
    query = [(key, value) for key, value in request.query_params.multi_items() if key != "page"]
    query.append(("page", str(number)))
    return f"{request.url.path}?{urlencode(query)}"
