#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite, in a random order (pytest-randomly; the seed
# is printed so a failing order can be replayed). pytest's exit 5 (no tests ran) is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import pytest_randomly' 2>/dev/null; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q -e '.[dev]'
fi
# The YAML corpus (2,310 real Kubernetes files) lives beside the checkout, where CI puts it.
# Without it its test is skipped; in CI (CI set) a missing corpus is an error, never a silent skip.
corpus="$(cd .. && pwd)/shared/corpus/k8s-yaml"
if [ -d "$corpus" ]; then
  export PRODFIX_CORPUS="$corpus"
elif [ -n "${CI:-}" ]; then
  echo "scripts/test.sh: CI is set but the YAML corpus is missing at $corpus" >&2
  echo "  (CI must place shared/ beside the checkout)" >&2
  exit 1
else
  echo "scripts/test.sh: note: no YAML corpus at $corpus: its test is skipped" >&2
fi
# Temporary directories in RAM when the machine has a tmpfs: the suite makes and deletes tens
# of thousands of small git files, which on a disk-backed /tmp take about twice as long.
# (/dev/shm is world-writable and sticky like /tmp: postgres, run as its own user, can use it.)
# Only with room to spare: a container's /dev/shm is often 64 MB.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] &&
  [ "$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')" -ge 4194304 ] 2>/dev/null; then
  export TMPDIR=/dev/shm
fi
# Bytecode cached in __pycache__ (git ignores it): with PYTHONDONTWRITEBYTECODE set, as some
# images set it, both workers re-compile and re-rewrite every test module at each run, and each
# of the few hundred `python -m prodfix` processes the suite starts compiles prodfix again.
unset PYTHONDONTWRITEBYTECODE
seed="${PRODFIX_TEST_SEED:-$(( (RANDOM << 15) | RANDOM ))}"
echo "test order: --randomly-seed=$seed (PRODFIX_TEST_SEED=$seed replays it)"
set +e
# Three workers (on 2 cores: many tests wait on a fake server, a subprocess or a database, and a
# third worker fills those gaps — 173 s against 189 s with two, 178 s with four, same machine),
# handed two tests at a time: the slow tests, which conftest.py puts first, go to whichever
# worker is free, so all end at about the same moment.
.venv/bin/python -m pytest -n 3 --dist load --maxschedchunk 2 -q -p randomly \
  --randomly-seed="$seed" "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi
exit "$rc"
