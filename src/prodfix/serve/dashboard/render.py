"""The model → HTML, through Jinja2 templates with autoescaping on for every template.

Branch names, fix names, PR titles and step details come from users: the templates never mark
anything safe, so all of it is escaped (see Jinja's "HTML Escaping" documentation).
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from prodfix.serve.dashboard.model import DashboardModel, FixView

REFRESH_S = 5  # how often the page polls its fragment


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("prodfix.serve.dashboard", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


def render_page(model: DashboardModel, *, base: str = "", refresh_s: int = REFRESH_S) -> str:
    """The whole page; `base` is the path the dashboard is mounted under ("" at the root)."""
    return _env().get_template("page.html").render(m=model, base=base, refresh_s=refresh_s)


def render_fragment(model: DashboardModel, *, base: str = "") -> str:
    """The part of the page that htmx replaces on every poll."""
    return _env().get_template("fragment.html").render(m=model, base=base)


def render_fix(fix: FixView, *, base: str = "", refresh_s: int = REFRESH_S) -> str:
    """One fix with every step's detail (not polled: the reader reloads it)."""
    return _env().get_template("fix.html").render(f=fix, base=base, refresh_s=refresh_s)
