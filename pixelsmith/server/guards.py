"""Two ASGI middlewares that keep a local server to itself: :class:`SameOrigin` refuses requests whose Host or
Origin is not this server (what stops a web page in the user's browser from driving it, DNS rebinding included,
and ``Origin: null`` from sandboxed frames and files), and :class:`BodyLimit` refuses bodies over a size while
they are read, before the whole body is in memory (FastAPI has no limit of its own)."""

from __future__ import annotations

import ipaddress
import json

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def _refuse(send, status: int, message: str, field: str | None = None) -> None:
    body = json.dumps({"error": message, "field": field}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class SameOrigin:
    """Only requests addressed to this server (Host) and, when they carry an Origin, coming from a page it
    served. A server bound to a non-loopback address also answers to that address."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 8000) -> None:
        self.app = app
        names = set(LOOPBACK) | ({host} if host not in ("0.0.0.0", "::") else set())
        names = {f"[{n}]" if ":" in n else n for n in names}  # IPv6 literals are bracketed in a Host header
        self.hosts = names | {f"{n}:{port}" for n in names}
        self.origins = {f"{scheme}://{h}" for h in self.hosts for scheme in ("http", "https")}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1").lower()
        if host not in self.hosts:
            return await _refuse(send, 421 if host else 400, f"Host '{host[:100]}' is not this server; "
                                 f"accepted: {', '.join(sorted(self.hosts))}", "Host")
        origin = headers.get(b"origin")
        if origin is not None and origin.decode("latin-1").lower() not in self.origins:
            return await _refuse(send, 403, f"requests from the origin '{origin.decode('latin-1')[:100]}' are "
                                 f"refused; this server answers its own page only", "Origin")
        return await self.app(scope, receive, send)


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """413 for a body over ``max_body`` bytes: at once from Content-Length, or as soon as a streamed body
    passes it."""

    def __init__(self, app, max_body: int = 100 * 2 ** 20) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        message = (f"the request body is larger than the server's limit of {self.max_body} bytes "
                   f"(pixelsmith serve --max-body-mb raises it)")
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return await _refuse(send, 413, message, "body")
        seen, started, refused = 0, False, False

        async def limited_receive():
            nonlocal seen, refused
            event = await receive()
            if event["type"] == "http.request":
                seen += len(event.get("body", b""))
                if seen > self.max_body and not refused:
                    refused = True
                    if not started:  # answered here: what the app does with the error is not sent
                        await _refuse(send, 413, message, "body")
                    raise BodyTooLarge
            return event

        async def tracking_send(event):
            nonlocal started
            if refused:
                return
            if event["type"] == "http.response.start":
                started = True
            await send(event)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            pass
