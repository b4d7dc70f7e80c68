"""Send events and per-second points to the review app's live page, never slowing the monitor.

The HTTP contract is in docs/monitor.md ("Live page contract"): batches are POSTed as
JSON to ``{url}/api/monitor/{bed}/events`` with ``Authorization: Bearer TOKEN``.
:meth:`LiveSender.send` only appends to a bounded queue; a sender thread posts batches
(at once when an event is queued, otherwise every ``flush_s``). While the server is
unreachable, items wait in the queue (retried with backoff); when it is full the oldest
are dropped and counted. Items the server refuses (HTTP 4xx) are dropped and counted.
"""
from __future__ import annotations

import collections
import json
import math
import threading
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

CONTRACT_VERSION = 1


def events_url(base: str, bed: str) -> str:
    """``{base}/api/monitor/{bed}/events`` (the bed id URL-quoted)."""
    return f"{base.rstrip('/')}/api/monitor/{urllib.parse.quote(bed, safe='')}/events"


class LiveSender:
    """Bounded, non-blocking delivery of monitor items to the app (see the module doc).

    Attributes ``sent``, ``dropped`` (queue overflow or refused), ``failures`` (failed
    posts) and ``last_error`` report how delivery went.
    """

    def __init__(self, url: str, bed: str, session: str, token: str | None = None, max_items: int = 5000,
                 max_batch: int = 500, timeout_s: float = 2.0, flush_s: float = 0.5,
                 backoff_s: tuple[float, float] = (0.5, 10.0)) -> None:
        self.url, self.bed, self.session, self.token = events_url(url, bed), bed, session, token
        self.max_items, self.max_batch, self.timeout_s, self.flush_s, self.backoff_s = \
            max_items, max_batch, timeout_s, flush_s, backoff_s
        self.sent = self.dropped = self.failures = 0
        self.last_error: str | None = None
        self._queue: collections.deque[dict] = collections.deque()
        self._cond = threading.Condition()
        self._urgent = False
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="live-sender", daemon=True)
        self._thread.start()

    def send(self, item: dict, urgent: bool = False) -> None:
        """Queue one item (never blocks); ``urgent`` (events) wakes the sender at once. NaN is sent as null."""
        item = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in item.items()}
        with self._cond:
            if len(self._queue) >= self.max_items:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(item)
            self._urgent = self._urgent or urgent
            if urgent:
                self._cond.notify()

    def close(self, drain_s: float = 3.0) -> None:
        """Try to deliver what is queued for up to ``drain_s`` s, then stop; the rest counts as dropped."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout=drain_s)
        with self._cond:
            self.dropped += len(self._queue)
            self._queue.clear()

    def stats(self) -> dict:
        """Delivery counts (for session.json and the per-minute report)."""
        return {"url": self.url, "sent": self.sent, "dropped": self.dropped, "failures": self.failures,
                "queued": len(self._queue), "last_error": self.last_error}

    def _run(self) -> None:
        wait = self.backoff_s[0]
        while True:
            with self._cond:
                if not self._closing and not self._urgent:
                    self._cond.wait(self.flush_s)
                self._urgent = False
                batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
                closing = self._closing
            if batch:
                outcome = self._post(batch)
                if outcome == "retry":
                    with self._cond:
                        self._queue.extendleft(reversed(batch))
                        while len(self._queue) > self.max_items:
                            self._queue.popleft()
                            self.dropped += 1
                    if closing:
                        return
                    with self._cond:
                        self._cond.wait(wait)               # back off (close() still wakes us)
                    wait = min(2 * wait, self.backoff_s[1])
                    continue
                wait = self.backoff_s[0]
            if closing and not self._queue:
                return

    def _post(self, batch: list[dict]) -> str:
        body = json.dumps({"version": CONTRACT_VERSION, "bed": self.bed, "session": self.session,
                           "sent_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                           "items": batch}, allow_nan=False).encode()
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json",
                                                  **({"Authorization": f"Bearer {self.token}"} if self.token else {})})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read()
            self.sent += len(batch)
            return "sent"
        except urllib.error.HTTPError as exc:
            self.failures += 1
            self.last_error = f"HTTP {exc.code} from {self.url}"
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                self.dropped += len(batch)                  # refused (bad token, bad bed): retrying will not help
                return "refused"
            return "retry"
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            self.failures += 1
            self.last_error = f"{self.url}: {getattr(exc, 'reason', exc)}"
            return "retry"
