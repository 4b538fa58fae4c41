"""The network as a checkpoint download meets it: which host it contacts, whether that host's name
resolves at all (a machine with no network learns so at once, instead of after huggingface_hub's
five retries and 23 s of back-off), and whether a failure was "no connection" (named plainly, with
the innermost cause) rather than a wrong name or a refused token.

>>> no_connection(RuntimeError("download failed")) is None
True
>>> import socket
>>> try:
...     raise RuntimeError("download failed") from socket.gaierror(-2, "Name or service not known")
... except RuntimeError as e:
...     no_connection(e)
'Name or service not known'
"""
from __future__ import annotations

import os
import re
import socket

__all__ = ["hub_host", "causes", "no_connection", "check_resolves"]

_NO_NETWORK = ("ConnectError", "ConnectTimeout", "NetworkError", "TimeoutException", "ProxyError")
_PROXIES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy")


def _endpoint() -> str:
    try:
        from huggingface_hub import constants
        return str(constants.ENDPOINT)
    except ImportError:
        return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def hub_host() -> str:
    """The hub's host (and port), as huggingface_hub will contact it (``HF_ENDPOINT``)."""
    from urllib.parse import urlparse
    endpoint = _endpoint()
    return urlparse(endpoint).netloc or endpoint


def causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or during, outermost first."""
    out: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and e not in out:
        out.append(e)
        e = e.__cause__ or e.__context__
    return out


def no_connection(exc: BaseException) -> str | None:
    """Why no connection was made (the innermost network error's text), or None when it is not that."""
    found = None
    for e in causes(exc):
        if type(e).__name__ == "OfflineModeIsEnabled":     # (a ConnectionError) downloads switched off, not
            return None                                    # the network missing
        if isinstance(e, (ConnectionError, socket.gaierror, TimeoutError)) or \
                any(c.__name__ in _NO_NETWORK for c in type(e).__mro__):
            found = e
    if found is None:
        return None
    text = str(found).strip().splitlines()[0] if str(found).strip() else type(found).__name__
    return re.sub(r"^\[Errno -?\d+\] ", "", text)      # "[Errno -2] Name or service not known"


def check_resolves() -> None:
    """Raise :class:`socket.gaierror` when the hub's host name does not resolve (no network, no DNS);
    nothing to check behind a proxy (the proxy resolves it) or in the hub library's offline mode."""
    if any(os.environ.get(v) for v in _PROXIES):
        return
    try:
        from huggingface_hub import constants
        if constants.HF_HUB_OFFLINE:    # the hub library refuses at once by itself
            return
    except ImportError:
        pass
    from urllib.parse import urlparse
    url = urlparse(_endpoint())
    if url.hostname:
        socket.getaddrinfo(url.hostname, url.port or 443, type=socket.SOCK_STREAM)
