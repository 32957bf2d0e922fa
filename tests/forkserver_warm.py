"""The last of the modules tests/cli.py's fork server preloads (`prodfix_proc`): what
every forked prodfix that talks HTTP would otherwise redo in each process — import httpx and
httpcore (httpx imports its transport's httpcore on the first client) and build the default TLS
context, whose loading of the system's CA certificates is the costly part of a client.
`prodfix.adapters.http.ssl_context` keeps one context per CA bundle, as in any prodfix process:
a child that names another bundle builds its own."""

from __future__ import annotations

import httpcore  # noqa: F401
import httpx  # noqa: F401

from prodfix.adapters.http import ssl_context

ssl_context(None)
