"""Image references: strict validation of what the user asks for, lenient reading of files.

Matching is exact after normalising the registry (as container runtimes resolve names:
https://docs.docker.com/reference/cli/docker/image/tag/): the Docker Hub spellings `x`,
`docker.io/x`, `docker.io/library/x` and `index.docker.io/library/x` are one repository, a registry
host is compared case-insensitively, and nothing is ever matched by prefix (`app` is not
`app-worker`, `registry/app` is not `registry/app/sub`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from prodfix.errors import ProdfixError

# docker/distribution reference grammar (reference/regexp.go), without IPv6 hosts.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY_RE = re.compile(rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
# What a file may hold: any algorithm, so a sha512 pin is still recognised (and replaced).
_ANY_DIGEST_RE = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}")
# Lenient charset for repositories read from files: uppercase and odd spellings are kept
# (they then simply do not match a valid input), templates (`{{ }}`, `${X}`) are not.
_FILE_REPOSITORY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:-]*")

_DOCKER_HUB = {"docker.io", "index.docker.io", "registry-1.docker.io"}


@dataclass(frozen=True)
class Reference:
    """`repository[:tag][@digest]`, split the way kustomize and Docker split it."""

    repository: str
    tag: str | None
    digest: str | None


@dataclass(frozen=True)
class Version:
    """What to deploy: exactly one of a tag or a digest."""

    tag: str | None
    digest: str | None

    @property
    def text(self) -> str:
        return self.tag if self.tag is not None else str(self.digest)


def parse_reference(value: str) -> Reference | None:
    """Split an image string found in a file; None when it is not an image reference."""
    repo, digest = value, None
    if "@" in repo:
        repo, digest = repo.split("@", 1)
        if not _ANY_DIGEST_RE.fullmatch(digest):
            return None
    tag = None
    # A ':' before the last '/' is a registry port (`host:5000/x`), not a tag separator.
    colon = repo.rfind(":")
    if colon > repo.rfind("/"):
        repo, tag = repo[:colon], repo[colon + 1 :]
        if not TAG_RE.fullmatch(tag):
            return None
    if not _FILE_REPOSITORY_RE.fullmatch(repo) or repo.endswith("/") or "//" in repo:
        return None
    if ":" in repo.partition("/")[2] or (":" in repo and "/" not in repo):
        return None  # a ':' is only allowed as the registry port, before the first '/'
    return Reference(repo, tag, digest)


def normalise(repository: str) -> str:
    """Canonical form for comparing repositories: `docker.io/library/x`, `host:5000/a/b`."""
    first, sep, rest = repository.partition("/")
    # Docker's rule: the first component is a registry host if it has a '.' or ':', is
    # `localhost`, or has an uppercase letter; otherwise the image lives on Docker Hub.
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        domain = first.lower()
    else:
        domain, rest = "docker.io", repository
    if domain in _DOCKER_HUB:
        domain = "docker.io"
        if "/" not in rest:
            rest = "library/" + rest
    return f"{domain}/{rest}"


def last_component(repository: str) -> str:
    """The part every spelling of the repository contains; used to skip files cheaply."""
    return repository.rsplit("/", 1)[-1]


def validate_image(image: str) -> str:
    """The repository to deploy, as the user gave it (no tag, no digest)."""
    if "@" in image or (":" in image and image.rfind(":") > image.rfind("/")):
        raise ProdfixError(
            f"image {image!r} must be a repository without a tag or digest",
            hint="pass the repository as --image and the tag (or sha256:… digest) as --tag",
        )
    if not _REPOSITORY_RE.fullmatch(image):
        raise ProdfixError(
            f"image {image!r} is not a valid image repository",
            hint="use the form [registry[:port]/]path/name, lowercase, e.g. "
            "registry.example.com/sre-triggers/steps-python",
        )
    return image


def validate_version(tag: str) -> Version:
    """A Docker tag (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`) or a `sha256:<64 hex>` digest."""
    if tag.startswith("sha256:"):
        if not DIGEST_RE.fullmatch(tag):
            raise ProdfixError(
                f"digest {tag!r} is not valid",
                hint="a digest is sha256: followed by 64 lowercase hex digits",
            )
        return Version(tag=None, digest=tag)
    if not TAG_RE.fullmatch(tag):
        raise ProdfixError(
            f"tag {tag!r} is not a valid image tag",
            hint="a tag is 1-128 characters of A-Z a-z 0-9 _ . - and must not start with . or -",
        )
    return Version(tag=tag, digest=None)
