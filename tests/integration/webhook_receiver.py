"""A real webhook receiver on a free localhost port, in a thread: it checks each delivery's
signature as the README tells receivers to, de-duplicates by event id, and can be told to
refuse, stall, redirect, answer with a body far too big to read, or trickle its answer's
headers or body a byte at a time (each byte well within any read timeout)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_recipe() -> Callable[..., bool]:
    """The verification recipe of the README's Webhooks section, as receivers copy it."""
    section = README.read_text(encoding="utf-8").split("## Webhooks", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict[str, Any] = {}
    exec(code, scope)
    recipe: Callable[..., bool] = scope["verify"]
    return recipe


verify = readme_recipe()


@dataclass
class Receiver:
    secret: str
    refuse_first: int = 0  # answer 500 to this many attempts, whatever they carry
    refuse_ids: dict[str, int] = field(default_factory=dict)  # event id → refusals left
    mode: str = "ok"  # ok | slow | redirect | huge | trickle-headers | trickle-body
    url: str = ""
    attempts: int = 0
    bad_signatures: int = 0
    accepted: list[dict[str, Any]] = field(default_factory=list)  # first copy of each event
    duplicates: int = 0
    huge_written: int = 0
    redirect_hits: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ids(self) -> list[str]:
        return [event["id"] for event in self.accepted]

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.path == "/elsewhere":
            with self.lock:
                self.redirect_hits += 1
            handler.send_response(200)
            handler.end_headers()
            return
        length = int(handler.headers.get("Content-Length", "0"))
        body = handler.rfile.read(length)
        with self.lock:
            self.attempts += 1
            if not verify(self.secret, handler.headers, body):
                self.bad_signatures += 1
                return _reply(handler, 401, b"bad signature")
            event = json.loads(body)
            assert handler.headers["X-Cxdesk-Event-Id"] == event["id"]
            refuse = self.refuse_first > 0 or self.refuse_ids.get(event["id"], 0) > 0
            if refuse:
                self.refuse_first = max(self.refuse_first - 1, 0)
                if event["id"] in self.refuse_ids:
                    self.refuse_ids[event["id"]] -= 1
        if self.mode == "slow":
            self.stop.wait(30)  # far past any endpoint's timeout; woken when the test ends
            return _reply(handler, 200, b"late")
        if self.mode == "redirect":
            handler.send_response(302)
            handler.send_header("Location", "/elsewhere")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return None
        if self.mode == "huge":
            return self._huge(handler)
        if self.mode.startswith("trickle"):
            return self._trickle(handler)
        if refuse:
            return _reply(handler, 500, b"\x1b[31mnot now\x00" + "稍后".encode())
        with self.lock:
            if event["id"] in self.ids():
                self.duplicates += 1
            else:
                self.accepted.append(event)
        return _reply(handler, 204, b"")

    def _huge(self, handler: BaseHTTPRequestHandler) -> None:
        """A refusal whose body would be 1 GB: written until the client hangs up."""
        handler.send_response(500)
        handler.send_header("Content-Length", str(1 << 30))
        handler.end_headers()
        chunk = b"x" * 65536
        try:
            while self.huge_written < 1 << 30 and not self.stop.is_set():
                handler.wfile.write(chunk)
                self.huge_written += len(chunk)
        except OSError:
            return

    def _trickle(self, handler: BaseHTTPRequestHandler) -> None:
        """An answer, complete after some twenty seconds, sent a byte at a time: headers that
        end in a 204 for trickle-headers, a 500's body after its headers for trickle-body."""
        if self.mode == "trickle-headers":
            sent, trickled = b"", b"HTTP/1.1 204 No Content\r\nX-Slow: " + b"x" * 1000 + b"\r\n\r\n"
        else:
            sent, trickled = b"HTTP/1.1 500 Oops\r\nContent-Length: 1000\r\n\r\n", b"x" * 1000
        handler.close_connection = True
        try:
            handler.wfile.write(sent)
            handler.wfile.flush()
            for byte in trickled:
                if self.stop.wait(0.02):  # woken when the test ends
                    return
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
        except OSError:  # the deliverer hung up
            return


def _reply(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    handler.send_response(status)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@contextmanager
def receiving(receiver: Receiver, port: int = 0) -> Iterator[Receiver]:
    """Serve `receiver` on 127.0.0.1 (`port`, or a free one) until the block ends."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver.answer(self)

        def log_message(self, *_: object) -> None:
            pass

    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.stop.set()
        server.shutdown()
        server.server_close()
