#!/bin/sh
# Regenerate tests/fixtures/jenkins/*.xml from jobs.yaml with Jenkins Job Builder
# (no Jenkins can run offline: JJB's output is the closest thing to a real config.xml).
# Needs: pip install jenkins-job-builder (6.5.0 was used).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
fixtures="$here/tests/fixtures/jenkins"
jjb=${JENKINS_JOBS:-jenkins-jobs}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$jjb" --version
"$jjb" test --config-xml -o "$out" "$fixtures/jobs.yaml"
for d in "$out"/*/; do
    cp "$d/config.xml" "$fixtures/$(basename "$d").xml"
done
ls "$fixtures"
