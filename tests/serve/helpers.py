"""Shared pieces of the service tests: signed webhook requests from GitHub's own examples, an
App key pair, and a GitHub-backed world (a bare repository the fake GitHub serves)."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from prodfix.serve.webhook import sign

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "webhooks"
SECRET = b"test-webhook-secret"


def example(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return copy.deepcopy(doc)


def pr_event(
    action: str, *, repo: str, number: int, head: str, head_sha: str, base: str, inst: int = 7
) -> dict[str, Any]:
    doc = example(f"pull_request.{action}")
    owner, name = repo.split("/")
    doc["repository"]["full_name"] = repo
    doc["repository"]["name"] = name
    doc["repository"]["owner"]["login"] = owner
    doc["number"] = number
    doc["pull_request"]["number"] = number
    doc["pull_request"]["head"]["ref"] = head
    doc["pull_request"]["head"]["sha"] = head_sha
    doc["pull_request"]["base"]["ref"] = base
    doc["installation"] = {"id": inst, "node_id": "x"}
    return doc


def push_event(*, repo: str, branch: str, after: str, inst: int = 7) -> dict[str, Any]:
    doc = example("push")
    doc["repository"]["full_name"] = repo
    doc["ref"] = f"refs/heads/{branch}"
    doc["after"] = after
    doc["installation"] = {"id": inst, "node_id": "x"}
    return doc


def signed(
    event: str, doc: dict[str, Any], *, delivery: str | None = None, secret: bytes = SECRET
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(doc).encode()
    return body, {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(secret, body),
        "Content-Type": "application/json",
    }


@dataclass(frozen=True)
class KeyPair:
    private_pem: str
    public_pem: str


@cache
def app_keys() -> KeyPair:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return KeyPair(private, public)
