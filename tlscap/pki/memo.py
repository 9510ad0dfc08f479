"""A bounded memo table keyed by object identity, for values computed from objects that are costly to
hash or compare (`x509.Name`, certificate summaries), and that recur as the very same objects: the
summaries and parsed names are themselves cached by content, so a certificate or CA list seen on
every connection comes back as the same object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

_V = TypeVar("_V")


class IdentityMemo(Generic[_V]):
    """`compute(*objects)`, remembered by the identity of the objects (never hashed nor compared).

    Each entry holds its objects, so their ids cannot be reused while remembered. The objects must be
    immutable, and the value a function of them alone. At `max_size` entries the table starts afresh,
    so memory stays bounded (a recurring object is then computed once more).
    """

    __slots__ = ("_compute", "_entries", "_max_size")

    def __init__(self, compute: Callable[..., _V], max_size: int) -> None:
        self._compute = compute
        self._max_size = max_size
        self._entries: dict[object, tuple[tuple[object, ...], _V]] = {}

    def __call__(self, *objects: object) -> _V:
        key = id(objects[0]) if len(objects) == 1 else tuple(map(id, objects))
        entry = self._entries.get(key)
        if entry is not None:  # its objects are alive, so no other object has their ids: these are they
            return entry[1]
        value = self._compute(*objects)
        if len(self._entries) >= self._max_size:
            self._entries.clear()
        self._entries[key] = (objects, value)
        return value

    def clear(self) -> None:
        self._entries.clear()
