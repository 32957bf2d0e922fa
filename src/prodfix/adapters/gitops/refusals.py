"""Why a file cannot be edited safely: one reason code per case, each with what to do next.

Every refusal names the file and line. The codes are stable (they appear in
`deploy --dry-run --json`); the corpus test accepts only the codes listed here.
"""

from __future__ import annotations

from prodfix.errors import Exit, ProdfixError

# code -> hint (what the user does next). The message itself says what was found.
HINTS: dict[str, str] = {
    "not-utf8": "re-save the file as UTF-8, or edit the tag by hand",
    "templated": "a Go/Helm template is not YAML: pin the tag in the chart's values file instead",
    "unparseable": "fix the YAML syntax (Argo CD cannot render this file either)",
    "duplicate-key": "remove the duplicate key; YAML loaders disagree on which one wins",
    "block-scalar": "rewrite the value as a one-line scalar, then run the deploy again",
    "anchor": "the value is shared through an anchor/alias: edit it by hand, or un-share it",
    "explicit-tag": "remove the YAML tag (!…) before the value, or edit it by hand",
    "tag-and-digest": "keep only one of newTag and digest in this kustomize images entry",
    "tag-suffix": "kustomize rejects tagSuffix together with newTag/digest: edit the entry by hand",
    "digest-pinned": "the values pin a digest that overrides the tag: clear it, or deploy a digest",
    "no-digest-field": "this image mapping has no digest key: deploy a tag, or add the key",
    "no-tag-field": "this image mapping has no tag key: add `tag:` by hand so the chart uses it",
    "cannot-insert": "add the key by hand once (block style); later deploys then edit it in place",
    "unexpected-value": "the value is not a plain string where an image tag was expected",
    "verify-failed": "this is a prodfix bug: please report the file; nothing was written",
}


class EditRefused(ProdfixError):
    """A file prodfix will not edit, and why (`reason` is a code of HINTS)."""

    def __init__(self, file: str, line: int, reason: str, detail: str) -> None:
        where = f"{file}:{line}" if line else file
        super().__init__(
            f"{where}: cannot edit safely: {detail}", hint=HINTS[reason], code=Exit.FAILED
        )
        self.file = file
        self.line = line
        self.reason = reason
        self.detail = detail
