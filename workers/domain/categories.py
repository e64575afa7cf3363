"""A category's descendants in the category tree (pure): the one walk of the tree, used by the
category fan-out (`workers.sync.categories`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def descendants(children: Mapping[int, Sequence[int]], roots: Iterable[int]) -> set[int]:
    """The categories `roots` and every category below them in the tree {id: child ids}; safe
    against cycles."""
    todo, seen = list(roots), set[int]()
    while todo:
        cid = todo.pop()
        if cid not in seen:
            seen.add(cid)
            todo += children.get(cid, [])
    return seen
