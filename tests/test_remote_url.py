from __future__ import annotations

import pytest

from prodfix.adapters.remote_url import graphql_url_for, parse_remote_url
from prodfix.errors import ProdfixError

GH = ("https://github.com", "https://api.github.com", "https://api.github.com/graphql")
GHE = (
    "https://ghe.example.com",
    "https://ghe.example.com/api/v3",
    "https://ghe.example.com/api/graphql",
)


@pytest.mark.parametrize(
    ("url", "host", "owner", "name", "urls"),
    [
        ("git@github.com:team/app.git", "github.com", "team", "app", GH),
        ("git@github.com:team/app", "github.com", "team", "app", GH),
        ("ssh://git@github.com/team/app.git", "github.com", "team", "app", GH),
        ("https://github.com/team/app.git", "github.com", "team", "app", GH),
        ("https://github.com/team/app", "github.com", "team", "app", GH),
        ("https://www.github.com/team/app/", "github.com", "team", "app", GH),
        ("https://x-access-token:SECRET@github.com/team/app.git", "github.com", "team", "app", GH),
        ("org-42@github.com:team/app.git", "github.com", "team", "app", GH),
        (
            "git@ghe.example.com:team/steps-python.git",
            "ghe.example.com",
            "team",
            "steps-python",
            GHE,
        ),
        (
            "ssh://git@ghe.example.com:2222/team/steps-python.git",
            "ghe.example.com",
            "team",
            "steps-python",
            GHE,
        ),
        (
            "https://GHE.example.com/team/steps-python",
            "ghe.example.com",
            "team",
            "steps-python",
            GHE,
        ),
        (
            "https://ghe.example.com:8443/team/a.b.git",
            "ghe.example.com",
            "team",
            "a.b",
            (
                "https://ghe.example.com:8443",
                "https://ghe.example.com:8443/api/v3",
                "https://ghe.example.com:8443/api/graphql",
            ),
        ),
        (
            "git@octo.ghe.com:team/app.git",
            "octo.ghe.com",
            "team",
            "app",
            (
                "https://octo.ghe.com",
                "https://api.octo.ghe.com",
                "https://api.octo.ghe.com/graphql",
            ),
        ),
        (
            "http://127.0.0.1:8080/team/app.git",
            "127.0.0.1",
            "team",
            "app",
            (
                "http://127.0.0.1:8080",
                "http://127.0.0.1:8080/api/v3",
                "http://127.0.0.1:8080/api/graphql",
            ),
        ),
    ],
)
def test_parse_remote_url(
    url: str, host: str, owner: str, name: str, urls: tuple[str, str, str]
) -> None:
    r = parse_remote_url(url)
    assert (r.host, r.owner, r.name) == (host, owner, name)
    assert (r.web_url, r.api_url, r.graphql_url) == urls
    assert "SECRET" not in repr(r)


@pytest.mark.parametrize(
    "url",
    [
        "/srv/git/app.git",
        "file:///srv/git/app.git",
        "git@ghe.example.com:app.git",
        "https://ghe.example.com/a/b/c.git",
        "https://u:SECRET@ghe.example.com/app",
    ],
)
def test_unparseable_remote_says_what_to_configure(url: str) -> None:
    with pytest.raises(ProdfixError) as info:
        parse_remote_url(url)
    assert info.value.message.startswith("cannot tell the GitHub owner/repository")
    assert "[forge]" in info.value.hint
    assert "SECRET" not in info.value.message


@pytest.mark.parametrize(
    ("api", "graphql"),
    [
        ("https://ghe.example.com/api/v3", "https://ghe.example.com/api/graphql"),
        ("https://ghe.example.com/api/v3/", "https://ghe.example.com/api/graphql"),
        ("https://api.github.com", "https://api.github.com/graphql"),
    ],
)
def test_graphql_url_for_explicit_api_url(api: str, graphql: str) -> None:
    assert graphql_url_for(api) == graphql
