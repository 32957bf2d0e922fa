"""Rendering: the exact text and links a reader sees, and hostile names kept as text."""

from __future__ import annotations

from datetime import UTC, datetime

from prodfix.serve.dashboard import build_model, render_fix, render_fragment, render_page
from prodfix.serve.snapshot import Snapshot
from tests.serve.dashboard_data import GH, SHA_A, fix, progressed, repo, snapshot, step
from tests.serve.htmltree import Node, parse

NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)

# The only elements the templates write; anything else in the output came from data.
TAGS = {
    "#document",
    "html",
    "head",
    "meta",
    "title",
    "link",
    "script",
    "body",
    "header",
    "h1",
    "h2",
    "h3",
    "a",
    "p",
    "main",
    "section",
    "article",
    "div",
    "strong",
    "span",
    "code",
    "ol",
    "ul",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "details",
    "summary",
    "time",
}


def flight_snapshot() -> Snapshot:
    steps = [
        step(
            "branch",
            "done",
            "from origin/delivery-2026.11 at 1a2b3c4",
            sha=SHA_A,
            since="2026-11-27T12:00:00Z",
        ),
        step("test", "done", "passed for 1a2b3c4", since="2026-11-29T10:00:00Z"),
        step(
            "propose",
            "waiting",
            "PR #12 waiting for 2h: 1 approval required",
            pr=12,
            url=GH + "/pull/12",
            since="2026-11-29T10:00:00Z",
        ),
        *progressed("python", 7, "done")[3:],
    ]
    for s in steps[3:]:
        s["state"], s["detail"] = "pending", ""
    return snapshot(
        fix("npe-in-parser", repo(steps)),
        fix(
            "old-fix",
            repo(progressed("go", 7, "done", since="2026-11-28T12:00:00Z"), kind="go"),
            done=True,
        ),
    )


def test_fix_card_exact_text_and_links() -> None:
    doc = parse(render_fragment(build_model(flight_snapshot(), NOW)))
    card = doc.find("section", "fixes").find("article", "fix")
    assert card.find("h3").text() == "npe-in-parser"
    assert card.find("h3").find("a").attrs["href"] == "/fix/npe-in-parser"
    assert card.find("p", "where").text() == (
        "team/steps-python python fix/npe-in-parser → delivery-2026.11"
    )
    assert [li.text() for li in card.find_all("li", "step")] == [
        "branch done 2d 1a2b3c4",
        "test done 2h",
        "propose waiting 2h PR #12",
        "merge pending",
        "build pending",
        "deploy pending",
        "backmerge pending",
    ]
    assert [(a.text(), a.attrs["href"]) for a in card.find("ol").find_all("a")] == [
        ("1a2b3c4", f"{GH}/commit/{SHA_A}"),
        ("PR #12", GH + "/pull/12"),
    ]
    # Only steps that need someone get their detail line; the state is written out.
    assert [p.text() for p in card.find_all("p", "detail")] == [
        "propose waiting: PR #12 waiting for 2h: 1 approval required"
    ]
    assert doc.find("p", "meta").text() == (
        "Observed 30s ago · in flight: 1 · failed: 0 · overdue back-merges: 0"
    )
    finished = doc.find("details")
    assert "open" not in finished.attrs  # collapsed until the reader opens it
    assert finished.find("summary").text() == "Recently finished (1)"
    assert [li.text() for li in finished.find_all("li")] == [
        "old-fix done 24h ago: team/steps-python"
    ]
    assert finished.find("a").attrs["href"] == "/fix/old-fix"


def test_page_polls_the_fragment_and_loads_only_its_own_files() -> None:
    doc = parse(render_page(build_model(flight_snapshot(), NOW), refresh_s=3))
    main = doc.find("main")
    assert (main.attrs["hx-get"], main.attrs["hx-trigger"], main.attrs["hx-swap"]) == (
        "/fragment",
        "every 3s",
        "innerHTML",
    )
    assert [s.attrs["src"] for s in doc.find_all("script")] == [
        "/static/htmx.min.js",
        "/static/dashboard.js",
    ]
    assert all(s.children == [] for s in doc.find_all("script"))  # no inline script
    assert [lk.attrs["href"] for lk in doc.find_all("link")] == [
        "/static/favicon.svg",
        "/static/dashboard.css",
    ]
    assert doc.find_all("style") == []
    assert all("style" not in n.attrs for n in doc.walk())


def test_mounted_under_a_prefix() -> None:
    m = build_model(flight_snapshot(), NOW)
    doc = parse(render_page(m, base="/team"))
    assert doc.find("main").attrs["hx-get"] == "/team/fragment"
    assert doc.find("h1").find("a").attrs["href"] == "/team/"
    assert doc.find("section", "fixes").find("h3").find("a").attrs["href"] == (
        "/team/fix/npe-in-parser"
    )


def test_fix_page_lists_every_step_with_its_detail() -> None:
    m = build_model(flight_snapshot(), NOW)
    found = m.fix("npe-in-parser")
    assert found is not None
    doc = parse(render_fix(found))
    rows = [[td.text() for td in tr.find_all("td")] for tr in doc.find("tbody").find_all("tr")]
    assert rows[:3] == [
        ["branch", "done", "2d", "from origin/delivery-2026.11 at 1a2b3c4", "1a2b3c4"],
        ["test", "done", "2h", "passed for 1a2b3c4", ""],
        ["propose", "waiting", "2h", "PR #12 waiting for 2h: 1 approval required", "PR #12"],
    ]
    assert doc.find("title").text() == "prodfix: fix npe-in-parser"


HOSTILE = [
    "<script>alert('x')</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
    "{{ 7*7 }}{% if 1 %}jinja{% endif %}",
    "&lt;b&gt; & <!-- -->",
    "</textarea></title><svg/onload=alert(1)>",
]


def hostile_snapshot() -> Snapshot:
    fixes = []
    for i, h in enumerate(HOSTILE):
        steps = [
            step(s["id"], s["state"], h, tag=h if s["id"] == "deploy" else None)
            for s in progressed("python", 2, "failed")
        ]
        r = repo(steps, remote=f"/srv/{h}.git", delivery=h, branch=f"fix/{h}")
        fixes.append(fix(f"{h}-{i}", r, done=i % 2 == 1))
    snap = snapshot(*fixes)
    snap["backmerge_prs"] = [
        {"repo": h, "number": 1, "url": h, "delivery": h, "age_s": 60} for h in HOSTILE
    ]
    snap["drift"] = [{"repo": h, "image": h, "tags": {h: h, "dc2": "x"}} for h in HOSTILE]
    snap["deliveries"] = [
        {
            "repo": h,
            "branch": h,
            "missing_backmerge_days": 9,
            "red": True,
            "mainline": h,
            "behind_commits": 3,
            "behind_days": 1,
            "last_sync": None,
        }
        for h in HOSTILE
    ]
    snap["policy"] = [
        {
            "repo": h,
            "pr": 1,
            "head_sha": h,
            "conclusion": "failure",
            "findings": [{"rule": h, "severity": h, "commits": [h], "message": h}],
        }
        for h in HOSTILE
    ]
    snap["updated_at"] = HOSTILE[0]
    return snap


def assert_inert(doc: Node, *, base: str = "") -> None:
    for n in doc.walk():
        assert n.tag in TAGS, n.tag
        assert not any(a.startswith("on") for a in n.attrs), n.attrs
        href = n.attrs.get("href")
        assert href is None or href.startswith(f"{base}/"), href
    assert len(doc.find_all("script")) in (0, 2)


def test_hostile_names_render_as_text_everywhere() -> None:
    m = build_model(hostile_snapshot(), NOW)
    for html in (render_page(m), render_fragment(m)):
        doc = parse(html)
        assert_inert(doc)
        text = doc.text()
        for h in HOSTILE:
            assert " ".join(h.split()) in text
        assert "49" not in text
    for f in (*m.in_flight, *m.finished):
        doc = parse(render_fix(f))
        assert_inert(doc)
        assert doc.find("h2").text().startswith(f"Fix {' '.join(f.name.split())}")
    # The fix's own page is linked by its name, percent-encoded.
    links = [a.attrs["href"] for a in parse(render_fragment(m)).find_all("a")]
    assert "/fix/%3Cscript%3Ealert%28%27x%27%29%3C/script%3E-0" in links


def test_tables_rows_exact_cells() -> None:
    from tests.serve.dashboard_data import demo_snapshot

    doc = parse(render_fragment(build_model(demo_snapshot(NOW), NOW)))

    def rows(section: str) -> list[list[str]]:
        table = next(
            s for s in doc.find_all("section") if s.attrs.get("aria-labelledby") == section
        )
        return [
            [td.text() for td in tr.find_all("td")] for tr in table.find("tbody").find_all("tr")
        ]

    assert rows("h-backmerge") == [
        ["team/steps-go", "PR #19", "delivery-2026.10", "9d"],
        ["team/steps-python", "PR #44", "delivery-2026.11", "2d"],
    ]
    assert rows("h-deliveries") == [
        ["team/steps-go", "delivery-2026.10", "overdue", "9 d"],
        ["team/steps-python", "delivery-2026.11", "in time", "2 d"],
    ]
    assert rows("h-drift")[0][:2] == [
        "team/deployment-infra",
        "registry.example.com/team/steps-python",
    ]
    assert [li.text() for li in doc.find("ul", "tags").find_all("li")] == [
        "2026.11.3: dc2, dc3",
        "2026.11.4: dc1",
    ]
    assert rows("h-policy") == [
        [
            "team/steps-go",
            "#20",
            "1a2b3c4",
            "failure",
            "branched-from-master (error): fix/metrics carries 3 commits of master",
        ],
        ["team/steps-python", "#41", "5e6f7a8", "success", "none"],
    ]
    red = [tr.attrs.get("class") for tr in doc.find_all("tr") if tr.find_all("td")]
    assert red.count("red") == 1
    # how far behind: the line `status` prints and the command, for the measured branch only
    assert [li.text() for li in doc.find("ul", "behind").find_all("li")] == [
        "team/steps-python: delivery-2026.11: 12 commits behind master, oldest 9 days ago; "
        "last synced 2026-11-02 next: prodfix sync --into delivery-2026.11"
    ]
    retry = next(a for a in doc.find_all("article") if a.find("h3").text() == "retry-timeout")
    assert [li.text() for li in retry.find_all("li", "step")][5:] == [
        "deploy waiting 25m tag 2026.11.4 PR #88",  # the deploy PR has no web address here
        "backmerge pending",
    ]
