#!/usr/bin/env bash
# The raw git pipeline `prodfix check --no-fetch` is measured against: the same questions, asked
# with git's own one-shot commands, nothing more (no parsing into findings,
# no landing attribution, no trailer matching beyond the grep).
#   bench/check_raw.sh REPO [FIX] [MASTER] [DELIVERY]
set -euo pipefail
cd "$1"
FIX=${2:-fix/bench}
M=${3:-refs/remotes/origin/master}
D=${4:-refs/remotes/origin/delivery}

git rev-parse --verify --quiet "$FIX^{commit}" >/dev/null
git rev-parse --verify --quiet "$M^{commit}" >/dev/null
git rev-parse --verify --quiet "$D^{commit}" >/dev/null

# P1: the fix branch carries no master commit missing from delivery
comm -23 <(git rev-list "$FIX" "^$D" | sort) <(git rev-list "$FIX" "^$D" "^$M" | sort) >/dev/null

# P2: mainline commits inside delivery (one-shot intersection after the cut)
CUT=$(set +o pipefail; git rev-list --first-parent "$D" | grep -m1 -F -f <(git rev-list --first-parent "$M"))
comm -12 <(git rev-list "$D" "^$CUT" | sort) <(git rev-list --first-parent "$M" "^$CUT" | sort) >/dev/null
git log --first-parent --merges --format='%H %(trailers:key=Prodfix-Sync,valueonly)' "$D" "^$CUT" >/dev/null

# P3: delivery commits missing on master: patch-ids, landings, -x trailers
git cherry "$M" "$D" >/dev/null
git log --first-parent --format='%ct %H %s' "$M..$D" >/dev/null
git log -F --grep='(cherry picked from commit ' --format=%B "$M" "^$D" >/dev/null
