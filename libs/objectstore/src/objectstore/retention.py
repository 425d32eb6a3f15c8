"""Which objects a retention sweep removes."""

from __future__ import annotations

from collections.abc import Iterable, Set

from objectstore.models import ObjectInfo


def newest_first(objects: Iterable[ObjectInfo]) -> list[ObjectInfo]:
    """Order objects newest first: by ``last_modified``, ties broken by key, descending.

    S3 reports modification times to the second, so objects written in one burst tie; the key
    decides between them so that the same listing always yields the same order.
    """
    return sorted(objects, key=lambda info: (info.last_modified, info.key), reverse=True)


def select_expired(
    objects: Iterable[ObjectInfo], keep: int, protect: Set[str] = frozenset()
) -> list[str]:
    """The keys a ``keep_latest`` sweep deletes, oldest first.

    The ``keep`` newest objects are kept, counting protected ones among them when they are that
    new; of the rest, every object whose key is not in ``protect`` is expired. A protected key is
    therefore never deleted and never pushes an unprotected newer object out.
    """
    if keep < 0:
        raise ValueError("keep must be zero or more")
    older = newest_first(objects)[keep:]
    return [info.key for info in reversed(older) if info.key not in protect]
