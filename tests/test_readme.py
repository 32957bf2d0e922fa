from __future__ import annotations

import re
from pathlib import Path

from prodfix.config import reference_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_config_reference_matches_schema() -> None:
    text = (ROOT / "README.md").read_text()
    m = re.search(
        r"<!-- config-reference:start -->\n(.*?)<!-- config-reference:end -->", text, re.S
    )
    assert m is not None
    assert m.group(1) == reference_markdown()


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", quick, re.S)
    assert len(commands) == 2
    assert "prodfix demo" in commands[0]
    assert commands[1] in (ROOT / ".ci" / "run").read_text()
