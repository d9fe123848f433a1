"""Work done as another user's session or another app server would do it: in a fresh context."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def in_fresh_context(work: Callable[[], T]) -> T:
    """Run `work` in a thread (a thread starts with no context variables: none of this context's read floor or
    data version is shared) and return its result, re-raising what it raised."""
    result: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except BaseException as error:  # pragma: no cover - re-raised below
            errors.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if errors:
        raise errors[0]
    return result[0]
