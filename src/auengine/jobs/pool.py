"""A supervised set of worker processes: started with the server, restarted when one dies."""
from __future__ import annotations

import os
import sys
import threading
from multiprocessing import get_context

from .worker import WorkerSettings, worker_main


class WorkerPool:
    """``n`` worker processes (spawned, so no state is shared with the web process)."""

    def __init__(self, settings: WorkerSettings, n: int, check_s: float = 1.0) -> None:
        self.settings, self.n, self.check_s = settings, n, check_s
        self._context = get_context("spawn")
        self._processes: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._supervise, daemon=True)
        self.restarts = 0

    def _spawn(self):
        process = self._context.Process(target=worker_main, args=(self.settings, os.getpid()), daemon=True,
                                        name="auengine-worker")
        process.start()
        return process

    def start(self) -> "WorkerPool":
        self._processes = [self._spawn() for _ in range(self.n)]
        self._thread.start()
        return self

    def pids(self) -> list[int]:
        return [p.pid for p in self._processes]

    def _supervise(self) -> None:
        while not self._stop.wait(self.check_s):
            for i, process in enumerate(self._processes):
                if not process.is_alive() and not self._stop.is_set():
                    print(f"auengine serve: worker {process.pid} ended (exit {process.exitcode}); starting another",
                          file=sys.stderr)
                    self._processes[i] = self._spawn()
                    self.restarts += 1

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            process.join(timeout)
            if process.is_alive():
                process.kill()
