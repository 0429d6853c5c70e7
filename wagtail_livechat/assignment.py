"""Automatic assignment: round robin among available candidates, pure."""

from __future__ import annotations

from collections.abc import Collection, Iterable


def next_assignee(
    candidates: Iterable[int], available: Collection[int], last: int | None
) -> int | None:
    """The user id whose turn it is, or None when nobody can take it.

    Candidates are taken in a stable order (by id); the turn passes to the
    first available candidate after ``last``, the one who got the previous
    conversation, wrapping around.
    """
    pool = sorted(set(candidates).intersection(available))
    if not pool:
        return None
    if last is not None:
        for pk in pool:
            if pk > last:
                return pk
    return pool[0]
