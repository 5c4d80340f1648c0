"""The HTTP protocol uvicorn runs (`--http app.core.server:BoundedHttpToolsProtocol`).

httptools buffers a request's head without limit: a client sending 64 MiB of headers keeps
them in memory. This protocol counts the bytes received while the head is incomplete and
answers 431 once they pass `MAX_HEADER_BYTES`, before the application is called.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.core.requests import MAX_HEADER_BYTES


def _refusal() -> bytes:
    body = json.dumps(
        {
            "type": "urn:gpo:problem:headers-too-large",
            "title": "Request Header Fields Too Large",
            "status": 431,
            "detail": f"The request line and headers exceed {MAX_HEADER_BYTES} bytes.",
        }
    ).encode()
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\n"
        "content-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


REFUSAL = _refusal()


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    _head_bytes = 0
    _in_head = True

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._in_head = True

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Only chunks after which the head is still incomplete count: a chunk that ends the
        # head may carry the body's first bytes.
        if self._in_head and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEADER_BYTES:
                self.logger.info("request head over %d bytes refused", MAX_HEADER_BYTES)
                self.transport.write(REFUSAL)
                self.transport.close()
