"""HTTP requests to the system under test, in the style of k6's ``http``.

Every function sends one request and returns a :class:`Response`. A
request that got no response returns one too, with ``status`` 0 and
``error`` set, so checks count it as failed instead of raising::

    res = http.get(base + "/api/search", params={"q": "lamp"},
                   name="/api/search")
    res = http.post(base + "/api/auth/login",
                    json={"username": "user1", "password": "password"})
    token = res.json()["token"]
    res = http.get(base + "/api/orders", bearer=token)
"""

import json as _json
from urllib.parse import urlencode

from componentize_py_types import Err
from wit_world.imports import http as _host
from wit_world.imports import types as _t

_BODY_MODES = {
    "text": _t.BodyMode.TEXT,
    "binary": _t.BodyMode.BINARY,
    "none": _t.BodyMode.DISCARD,
}


class HttpError:
    """Why a request got no response: ``kind`` (``"timeout"``, ``"dns"``,
    ``"connection-refused"``, ...) and the transport's ``message``."""

    __slots__ = ("kind", "message")

    def __init__(self, kind, message):
        self.kind = kind
        self.message = message

    def __repr__(self):
        return f"HttpError({self.kind!r}, {self.message!r})"


class Response:
    """A response, or the absence of one (``status`` 0, ``error`` set).

    ``timings`` holds k6's phases in milliseconds (``blocked``,
    ``connecting``, ``sending``, ``waiting``, ``receiving``,
    ``duration``); it is ``None`` when no response came.
    """

    __slots__ = ("status", "headers", "_body", "timings", "error")

    def __init__(self, status=0, headers=(), body=None, timings=None, error=None):
        self.status = status
        self.headers = list(headers)
        self._body = body
        self.timings = timings
        self.error = error

    @property
    def ok(self):
        """Whether a response came with a status below 400."""
        return self.error is None and 0 < self.status < 400

    @property
    def text(self):
        """The body as text; ``""`` when discarded."""
        if isinstance(self._body, bytes):
            return self._body.decode("utf-8", "replace")
        return self._body or ""

    @property
    def body(self):
        """The body as bytes: exactly as sent with
        ``response_type="binary"``, else the text's UTF-8."""
        if isinstance(self._body, str):
            return self._body.encode()
        return self._body or b""

    def json(self):
        """The body parsed as JSON; raises ``ValueError`` when it is not."""
        return _json.loads(self.text)

    def header(self, name):
        """The first value of header ``name`` (any case), or ``None``."""
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


def request(method, url, body=None, *, json=None, params=None, headers=None,
            bearer=None, name=None, tags=None, timeout=None, redirects=None,
            response_type=None):
    """Sends one request and waits for its whole response.

    ``params`` are added to the URL's query, ``json`` is serialised as
    the body with its content type, ``bearer`` sets an ``Authorization:
    Bearer`` header, ``name`` is the ``name`` tag that groups the request
    in the summary (set it when the URL carries ids or queries),
    ``tags`` adds tags to its samples, ``timeout`` (seconds) overrides
    the host's default, ``redirects`` caps the redirects followed and
    ``response_type`` is k6's: ``"text"`` (the default), ``"binary"``
    for bytes as sent, or ``"none"`` to read the body without keeping it
    (it still counts in ``data_received``).
    """
    header_list = [(str(k), str(v)) for k, v in (headers or {}).items()]
    if json is not None:
        body = _json.dumps(json, separators=(",", ":"))
        header_list.append(("content-type", "application/json"))
    if bearer is not None:
        header_list.append(("authorization", f"Bearer {bearer}"))
    if params:
        url += ("&" if "?" in url else "?") + urlencode(params)
    req = _t.Request(
        method=method,
        url=url,
        headers=header_list,
        body=_request_body(body),
        tags=[(str(k), str(v)) for k, v in (tags or {}).items()],
        name=name,
        timeout_ms=None if timeout is None else int(timeout * 1000),
        max_redirects=redirects,
        expected_statuses=None,
        body_mode=None if response_type is None else _BODY_MODES[response_type],
    )
    try:
        res = _host.send(req)
    except Err as err:
        kind = err.value.kind.name.lower().replace("_", "-")
        return Response(error=HttpError(kind, err.value.message))
    body = None if res.body is None else res.body.value
    return Response(res.status, res.headers, body, res.timings)


def get(url, **kwargs):
    """A ``GET``; keyword arguments as for :func:`request`."""
    return request("GET", url, **kwargs)


def head(url, **kwargs):
    """A ``HEAD``; keyword arguments as for :func:`request`."""
    return request("HEAD", url, **kwargs)


def post(url, body=None, **kwargs):
    """A ``POST``; keyword arguments as for :func:`request`."""
    return request("POST", url, body, **kwargs)


def put(url, body=None, **kwargs):
    """A ``PUT``; keyword arguments as for :func:`request`."""
    return request("PUT", url, body, **kwargs)


def patch(url, body=None, **kwargs):
    """A ``PATCH``; keyword arguments as for :func:`request`."""
    return request("PATCH", url, body, **kwargs)


def delete(url, body=None, **kwargs):
    """A ``DELETE``; keyword arguments as for :func:`request`."""
    return request("DELETE", url, body, **kwargs)


def _request_body(body):
    if body is None or body == "" or body == b"":
        return None
    if isinstance(body, str):
        return _t.Body_Text(body)
    return _t.Body_Binary(bytes(body))
