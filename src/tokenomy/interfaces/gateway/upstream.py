"""A small async HTTP/1.1 client for OpenAI-compatible upstreams: keep-alive pool, timeouts, streaming.

One ``UpstreamClient`` per upstream holds idle keep-alive connections (asyncio streams) to its
``host:port`` and sends ``POST``/``GET`` requests with a body; a response is read whole
(``request``) or relayed body chunk by body chunk (``stream``: chunked transfer decoded, each chunk as
it arrives). Chosen over httpx and aiohttp by measurement (benchmarks/bench_gateway.py ``--clients``):
it does only what the gateway needs. Every failure is an ``UpstreamError`` with a ``kind``
(``refused``, ``timeout``, ``status``, ``cut``, ``protocol``) so the caller can re-price and retry; a
connection that failed, or whose response was not read to its end, is closed, never reused.
``https://`` upstreams (a hosted API) are reached over TLS with the system's certificates; a base URL
may end in ``/v1`` or not. It does not follow redirects or speak HTTP/2.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from tokenomy.core.errors import TokenomyError, ValidationError

__all__ = ["UpstreamClient", "UpstreamError", "UpstreamResponse"]


class UpstreamError(TokenomyError):
    """An upstream call failed; ``kind`` says how, ``status`` is the HTTP status for ``kind='status'``."""

    def __init__(self, upstream: str, kind: str, detail: str, status: int = 0, body: bytes = b"") -> None:
        super().__init__(f"upstream {upstream!r}: {kind}: {detail}")
        self.upstream, self.kind, self.detail, self.status, self.body = upstream, kind, detail, status, body


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    """A response read whole."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class UpstreamClient:
    """Keep-alive HTTP/1.1 connections to one upstream.

    Args:
        name: the upstream's name (for errors).
        base_url: ``http://host:port[/prefix]``.
        timeout_s: limit on connecting and on waiting for the response head, and on each body read.
        max_idle: idle connections kept open.
        max_body_bytes: a response body longer than this is a ``protocol`` error (read no further).
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        timeout_s: float = 30.0,
        max_idle: int = 256,
        headers: Mapping[str, str] | None = None,
        max_body_bytes: int = 32 * 2**20,
    ) -> None:
        parts = urlsplit(base_url)
        self.max_body_bytes = max_body_bytes
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError(
                f"upstream {name!r}: base_url must be http(s)://host[:port][/prefix]; got {base_url!r}"
            )
        self.name, self.timeout_s, self.max_idle = name, float(timeout_s), max_idle
        self.host, self.port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        self._ssl = ssl.create_default_context() if parts.scheme == "https" else None
        prefix = parts.path.rstrip("/")
        self.prefix = prefix[:-3] if prefix.endswith("/v1") else prefix  # paths are sent as /v1/...
        self._host_header = parts.netloc.rsplit("@", 1)[-1].encode()
        self._headers = dict(headers or {})  # sent with every request (e.g. authorization)
        self._idle: deque[_Conn] = deque()
        self._closed = False

    async def _connect(self) -> _Conn:
        while self._idle:
            reader, writer = self._idle.pop()
            if not reader.at_eof() and not writer.is_closing() and not _unread(reader):
                return reader, writer
            writer.close()  # closed, or bytes nobody asked for: they must not answer the next request
        try:
            async with asyncio.timeout(self.timeout_s):
                return await asyncio.open_connection(
                    self.host,
                    self.port,
                    limit=2**20,
                    ssl=self._ssl,
                    server_hostname=self.host if self._ssl else None,
                )
        except TimeoutError:
            raise UpstreamError(self.name, "timeout", f"connect to {self.host}:{self.port}") from None
        except OSError as exc:
            raise UpstreamError(self.name, "refused", f"connect to {self.host}:{self.port}: {exc}") from None

    def _release(self, conn: _Conn, keep: bool) -> None:
        if keep and not self._closed and len(self._idle) < self.max_idle and not _unread(conn[0]):
            self._idle.append(conn)
        else:
            conn[1].close()

    def _head(self, method: str, path: str, body: bytes, headers: dict[str, str] | None) -> bytes:
        lines = [f"{method} {self.prefix}{path} HTTP/1.1", f"host: {self._host_header.decode()}"]
        lines += [f"{k}: {v}" for k, v in {**self._headers, **(headers or {})}.items()]
        lines += ["content-type: application/json", f"content-length: {len(body)}", "", ""]
        return "\r\n".join(lines).encode("latin-1")

    async def _send(
        self, method: str, path: str, body: bytes, headers: dict[str, str] | None
    ) -> tuple[_Conn, int, dict[bytes, bytes], tuple[tuple[bytes, bytes], ...]]:
        for attempt in (0, 1):  # a pooled connection the server closed meanwhile: retry once on a new one
            fresh = not self._idle
            conn = await self._connect()
            reader, writer = conn
            try:
                writer.write(self._head(method, path, body, headers) + body)
                async with asyncio.timeout(self.timeout_s):
                    head = await reader.readuntil(b"\r\n\r\n")
            except TimeoutError:
                writer.close()
                raise UpstreamError(
                    self.name, "timeout", f"no response within {self.timeout_s:g} s"
                ) from None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                writer.close()
                if attempt == 0 and not fresh:
                    continue
                raise UpstreamError(
                    self.name, "cut", f"connection closed before the response: {exc!r}"
                ) from None
            try:
                return conn, *_parse_head(self.name, head)
            except UpstreamError:
                writer.close()
                raise
        raise AssertionError("unreachable")

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> UpstreamResponse:
        """Send one request and read the whole response.

        Raises:
            UpstreamError: refused, timeout, cut (closed mid-response) or protocol (unparseable).
        """
        conn, status, hmap, raw = await self._send(method, path, body, headers)
        chunks = []
        async for chunk in self._body(conn, hmap):
            chunks.append(chunk)
        return UpstreamResponse(status, raw, b"".join(chunks))

    @contextlib.asynccontextmanager
    async def stream(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> AsyncIterator[tuple[int, tuple[tuple[bytes, bytes], ...], AsyncIterator[bytes]]]:
        """Send one request; yield (status, headers, body chunks as they arrive).

        Leaving the block before the body's end closes the connection (it is not reused).
        """
        conn, status, hmap, raw = await self._send(method, path, body, headers)
        body_iter = self._body(conn, hmap)
        try:
            yield status, raw, body_iter
        finally:
            await body_iter.aclose()  # type: ignore[attr-defined]

    async def _body(self, conn: _Conn, hmap: dict[bytes, bytes]) -> AsyncIterator[bytes]:
        reader, _ = conn
        done = False
        try:
            async with asyncio.timeout(None) as tm:
                loop = asyncio.get_running_loop()
                cap, total = self.max_body_bytes, 0
                if hmap.get(b"transfer-encoding", b"").lower() == b"chunked":
                    while True:
                        tm.reschedule(loop.time() + self.timeout_s)
                        size_line = await reader.readuntil(b"\r\n")
                        size = _chunk_size(size_line)
                        total += size
                        if total > cap:
                            raise _TooLongError(cap)
                        if size == 0:
                            await reader.readuntil(b"\r\n")  # no trailers from the servers we call
                            break
                        data = await reader.readexactly(size + 2)
                        tm.reschedule(None)
                        yield data[:-2]
                elif b"content-length" in hmap:
                    tm.reschedule(loop.time() + self.timeout_s)
                    n = _length(hmap[b"content-length"])
                    if n > cap:
                        raise _TooLongError(cap)
                    data = await reader.readexactly(n) if n else b""
                    tm.reschedule(None)
                    if data:
                        yield data
                else:  # read to close
                    tm.reschedule(loop.time() + self.timeout_s)
                    data = await reader.read(cap + 1)
                    while len(data) <= cap:
                        more = await reader.read(cap + 1 - len(data))
                        if not more:
                            break
                        data += more
                    if len(data) > cap:
                        raise _TooLongError(cap)
                    tm.reschedule(None)
                    yield data
                    conn[1].close()
                    return
            done = True
        except TimeoutError:
            raise UpstreamError(self.name, "timeout", f"body stalled for {self.timeout_s:g} s") from None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise UpstreamError(self.name, "cut", f"connection closed mid-body: {exc!r}") from None
        except _TooLongError as exc:
            raise UpstreamError(self.name, "protocol", f"response body over {exc.args[0]} bytes") from None
        except ValueError:
            raise UpstreamError(self.name, "protocol", "bad chunk size or content-length") from None
        finally:
            keep = done and hmap.get(b"connection", b"").lower() != b"close"
            self._release(conn, keep)

    async def aclose(self) -> None:
        """Close every idle connection; later calls open new ones."""
        while self._idle:
            self._idle.pop()[1].close()


def _unread(reader: asyncio.StreamReader) -> bool:
    """Whether bytes past the last response wait in ``reader`` (an upstream splitting its answer)."""
    return bool(getattr(reader, "_buffer", b""))


class _TooLongError(TokenomyError):
    """A response body past the client's ``max_body_bytes``."""


def _chunk_size(line: bytes) -> int:
    text = line.split(b";", 1)[0].strip()
    if not text or len(text) > 16 or not all(c in b"0123456789abcdefABCDEF" for c in text):
        raise ValueError(text)
    return int(text, 16)


def _length(value: bytes) -> int:
    if not value.isdigit() or len(value) > 18:  # "-5", "+5", "1e3", "5, 6": no
        raise ValueError(value)
    return int(value)


def _parse_head(name: str, head: bytes) -> tuple[int, dict[bytes, bytes], tuple[tuple[bytes, bytes], ...]]:
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split(b" ", 2)[1])
    except (IndexError, ValueError):
        raise UpstreamError(name, "protocol", f"bad status line {lines[0][:80]!r}") from None
    raw = []
    for line in lines[1:]:
        if line:
            k, _, v = line.partition(b":")
            raw.append((k.strip().lower(), v.strip()))
    hmap = dict(raw)
    lengths = {v for k, v in raw if k == b"content-length"}
    if len(lengths) > 1 or (lengths and b"transfer-encoding" in hmap):  # ambiguous framing
        raise UpstreamError(name, "protocol", "conflicting content-length / transfer-encoding")
    return status, hmap, tuple(raw)
