"""Tiny HTTP servers on 127.0.0.1 for the monitor tests: an MJPEG camera and a stand-in for the review app."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np


def serve(handler, port: int) -> tuple[ThreadingHTTPServer, int]:
    """Serve ``handler`` on 127.0.0.1:``port`` (0: a free one) in a daemon thread; (server, port)."""
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    return server, server.server_address[1]


def shut(server: ThreadingHTTPServer | None) -> None:
    """Stop serving and close the listening socket (open connections end on their own)."""
    if server is not None:
        server.shutdown()
        server.server_close()


class MjpegServer:
    """Serve ``image`` (BGR) as an endless MJPEG stream at ``fps`` on 127.0.0.1:``port`` (0: any free port).

    :meth:`stop` closes the listening socket and ends every open stream (the client sees a
    disconnect); :meth:`start` serves again on the same port. While ``paused`` is set the
    connections stay open but no frame is sent (a stalled stream). At most ``max_seconds`` per connection.
    """

    def __init__(self, image: np.ndarray, fps: float = 15.0, port: int = 0, max_seconds: float = 60.0) -> None:
        self.jpeg = cv2.imencode(".jpg", image)[1].tobytes()
        self.fps, self.port, self.max_seconds = fps, port, max_seconds
        self.frames_sent = 0
        self._server: ThreadingHTTPServer | None = None
        self._running = threading.Event()
        self.paused = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def start(self) -> "MjpegServer":
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                started = time.monotonic()
                try:
                    while owner._running.is_set() and time.monotonic() - started < owner.max_seconds:
                        if owner.paused.is_set():
                            time.sleep(0.05)
                            continue
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                         + str(len(owner.jpeg)).encode() + b"\r\n\r\n" + owner.jpeg + b"\r\n")
                        owner.frames_sent += 1
                        time.sleep(1 / owner.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._running.set()
        self._server, self.port = serve(Handler, self.port)
        return self

    def stop(self) -> None:
        self._running.clear()
        self._server = shut(self._server)


class CollectorServer:
    """Accepts ``POST /api/monitor/{bed}/events`` on 127.0.0.1 like the review app would; keeps the bodies.

    Answers 401 unless the ``Authorization`` header is ``Bearer {token}``; :meth:`stop`
    and :meth:`start` (same port) simulate the app going down and coming back.
    """

    def __init__(self, token: str, port: int = 0) -> None:
        self.token, self.port = token, port
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        self.refused = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def items(self) -> list[dict]:
        return [item for body in list(self.bodies) for item in body["items"]]

    def start(self) -> "CollectorServer":
        import json

        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Authorization") != f"Bearer {owner.token}":
                    owner.refused += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                owner.paths.append(self.path)
                owner.bodies.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

        self._server, self.port = serve(Handler, self.port)
        return self

    def stop(self) -> None:
        self._server = shut(self._server)
