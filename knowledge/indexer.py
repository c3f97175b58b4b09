"""A background thread that computes vectors for new passages.

Uploads return as soon as the text is stored and lexically searchable; this
thread then embeds the pending passages so dense search catches up.
"""

from __future__ import annotations

import logging
import threading

from knowledge.base import KnowledgeBase

logger = logging.getLogger(__name__)


class BackgroundIndexer:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._state = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="policybot-indexer", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self.notify()

    def notify(self) -> None:
        """New passages are waiting."""
        with self._state:
            self._idle.clear()
            self._wake.set()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every pending passage has its vector (tests, shutdown)."""
        return self._idle.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                break
            failed = False
            try:
                done = self.kb.embed_pending(
                    lambda n, total: logger.info("embedded %d/%d passages", n, total)
                )
                if done:
                    logger.info("vector index caught up (%d passages)", done)
            except Exception:  # keep serving lexically; the next upload retries
                logger.exception("embedding pending passages failed")
                failed = True
            with self._state:  # a notify() cannot slip between this check and idle
                if self.kb.pending and not failed:
                    self._wake.set()  # more arrived while we worked
                elif not self._wake.is_set():
                    self._idle.set()
