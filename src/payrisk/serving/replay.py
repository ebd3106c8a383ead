"""Request ids as idempotency keys: a dunning system that retries a call (a timeout, a crash
between sending and recording) gets the answer it was given, never a second, different plan; an id
reused for another body is refused (409), naming the id's field, never the body.

Answers are kept in memory per worker process, the latest `size` ids (bounded: a service that runs
for months does not grow); a restart forgets them, as the README says.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

from payrisk.serving.errors import ConflictError

Answer = TypeVar("Answer")


class AnswerLog(Generic[Answer]):
    """The latest answers by request id, with the digest of the body each answered."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._answers: OrderedDict[str, tuple[str, Answer]] = OrderedDict()
        self._lock = threading.Lock()

    def replay(self, request_id: str, digest: str) -> Answer | None:
        """The answer already given to this id and body; None for a new id. Refuses an id
        already used for another body."""
        with self._lock:
            found = self._answers.get(request_id)
            if found is None:
                return None
            self._answers.move_to_end(request_id)
        if found[0] != digest:
            raise ConflictError(
                "request_id was already used for another request body: send a new request_id "
                "for a new request (the same id and body get the same answer)"
            )
        return found[1]

    def record(self, request_id: str, digest: str, answer: Answer) -> Answer:
        """Keep `answer` for this id and body (the first one wins if two raced)."""
        with self._lock:
            found = self._answers.setdefault(request_id, (digest, answer))
            self._answers.move_to_end(request_id)
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)
        return found[1] if found[0] == digest else answer
