"""`.prodfix.toml`: one schema as data (`schema.py`), frozen typed sections built from it
(`model.py`), and loading — from the checkout, else from the mainline's copy (`load.py`)."""

from __future__ import annotations

from prodfix.config.load import FILENAME, detect_kind, load, load_for_repo, parse
from prodfix.config.model import (
    ArgoCdCfg,
    BuildCfg,
    CheckCfg,
    Config,
    DeployCfg,
    ForgeCfg,
    NotifyCfg,
    TestCfg,
)
from prodfix.config.schema import KINDS, SCHEMA, TEST_DEFAULTS, Key, reference_markdown

__all__ = [
    "FILENAME",
    "KINDS",
    "SCHEMA",
    "TEST_DEFAULTS",
    "ArgoCdCfg",
    "BuildCfg",
    "CheckCfg",
    "Config",
    "DeployCfg",
    "ForgeCfg",
    "Key",
    "NotifyCfg",
    "TestCfg",
    "detect_kind",
    "load",
    "load_for_repo",
    "parse",
    "reference_markdown",
]
