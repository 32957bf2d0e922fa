"""The team dashboard: server-rendered HTML of the service's snapshot, refreshed by htmx.

`routes` is what the app factory mounts; `build_model` and `render_page`/`render_fragment`
work without a server.
"""

from prodfix.serve.dashboard.model import DashboardModel, build_model
from prodfix.serve.dashboard.render import render_fix, render_fragment, render_page
from prodfix.serve.dashboard.web import make_routes, routes

__all__ = [
    "DashboardModel",
    "build_model",
    "make_routes",
    "render_fix",
    "render_fragment",
    "render_page",
    "routes",
]
