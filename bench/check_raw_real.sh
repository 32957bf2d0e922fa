#!/usr/bin/env bash
# The leanest raw-git pipeline asking what `prodfix check --no-fetch --json` asks, for
# bench/bench_check_real.py: the branch rule for the checked-out branch (one delivery branch
# assumed), and for every delivery branch its mainline merges (Prodfix-Sync marks, merged
# syncs) and missing back-merges (patch-ids, `-x` lines both ways, landing ages). The same
# walks prodfix makes — as few git processes as the questions allow — parsed by awk.
# Prints one line per finding: RULE SEVERITY BRANCH SHA...
#   bench/check_raw_real.sh REPO MAINLINE DELIVERY_GLOB NOW [MAX_DAYS] [REMOTE] [FIX_GLOB]
set -euo pipefail
cd "$1"
M=$2 GLOB=$3 NOW=$4 MAXDAYS=${5:-7} R=${6:-origin} FIX=${7:-fix/*}
LOGF='%H%x09%P%x09%(trailers:key=Prodfix-Sync,valueonly,separator=%x2c)'

cur="" curtip="" mtip="" dnames=() dtips=()
while IFS= read -r line; do  # "<* or space><refname> <sha>"
  name=${line:1} sha=${line##* }; name=${name% *}
  if [[ $name == refs/heads/* ]]; then
    [[ ${line:0:1} == "*" ]] && cur=${name#refs/heads/} curtip=$sha
    continue
  fi
  short=${name#refs/remotes/$R/}
  if [[ $short == "$M" ]]; then mtip=$sha
  elif [[ $short != HEAD && $short == $GLOB ]]; then dnames+=("$short") dtips+=("$sha"); fi
done < <(git for-each-ref --format='%(HEAD)%(refname) %(objectname)' "refs/remotes/$R/" refs/heads/)

# Findings from sections on stdin: @R D's own commits (sha ct parents…), @L D's commits down
# to CUT (sha<TAB>parents<TAB>sync), @M mainline first-parent commits, @C patch-id candidates,
# @P names master commits were picked from, @B backports of master commits, @O the branch's
# own commits, @K its commits beyond D (like @L).
FINDINGS='
function attribute(S, tip,    c, k, i, j, fp, top, s, chain, stack) {
  c = tip; k = 0
  while ((S, c) in np) { chain[k++] = c; c = (np[S, c] > 0) ? par[S, c, 1] : "" }
  for (i = k - 1; i >= 0; i--) {
    fp = chain[i]; land[S, fp] = fp; top = 0
    for (j = 2; j <= np[S, fp]; j++) stack[top++] = par[S, fp, j]
    while (top > 0) {
      s = stack[--top]
      if (((S, s) in land) || !((S, s) in np)) continue
      land[S, s] = fp
      for (j = 1; j <= np[S, s]; j++) stack[top++] = par[S, s, j]
    }
  }
}
function covered(S, members, syncs, mset_only,    a, n, j, s, top, stack, inm, cov, out) {
  n = split(members, a, " "); for (j = 1; j <= n; j++) inm[a[j]] = 1
  n = split(syncs, a, " "); top = 0; for (j = 1; j <= n; j++) stack[top++] = a[j]
  while (top > 0) {
    s = stack[--top]
    if ((s in cov) || !(s in inm)) continue
    cov[s] = 1
    for (j = 1; j <= np[S, s]; j++) stack[top++] = par[S, s, j]
  }
  n = split(mset_only, a, " "); out = 0
  for (j = 1; j <= n; j++) if (!(a[j] in cov)) out++
  return out
}
function record(S, line,    f, n, p, i) {
  split(line, f, "\t"); n = split(f[2], p, " ")
  np[S, f[1]] = n; for (i = 1; i <= n; i++) par[S, f[1], i] = p[i]
  sync[S, f[1]] = (f[3] != ""); order[S, cnt[S]++] = f[1]
}
NF == 0 { next }
/^@/ { sec = substr($0, 2); next }
sec == "R" { np["R", $1] = NF - 2; ct[$1] = $2; for (i = 3; i <= NF; i++) par["R", $1, i - 2] = $i; next }
sec == "L" || sec == "K" { record(sec, $0); next }
sec == "M" { mset[$1] = 1; next }
sec == "C" { cand[nc++] = $1; next }
sec == "P" { picked[npk++] = $1; next }
sec == "B" { skip[$1] = 1; next }
sec == "O" { own[$1] = 1; next }
END {
  if (cnt["L"] > 0) {
    attribute("L", tip)
    for (i = 0; i < cnt["L"]; i++) {
      s = order["L", i]; if (!(("L", s) in land)) continue
      fp = land["L", s]; if (s == fp) continue
      mem[fp] = mem[fp] " " s
      if (s in mset) { nb[fp]++; brought[fp] = brought[fp] " " s }
      if (sync["L", s] && np["L", s] > 1) syn[fp] = syn[fp] " " s
    }
    for (i = 0; i < cnt["L"]; i++) {
      fp = order["L", i]; if (land["L", fp] != fp || !nb[fp]) continue
      if (sync["L", fp]) sev = "info"
      else if (syn[fp] != "") sev = covered("L", mem[fp], syn[fp], brought[fp]) ? "error" : "info"
      else sev = "error"
      print "master-merged-into-delivery", sev, d, fp
    }
  }
  if (nc > 0) {
    attribute("R", tip)
    for (i = 0; i < nc; i++) {
      s = cand[i]; if (s in skip) continue
      for (j = 0; j < npk; j++) if (index(s, picked[j]) == 1) { skip[s] = 1; break }
      if (s in skip) continue
      if (now - ct[land["R", s]] > days * 86400) late = late " " s; else recent = recent " " s
    }
    if (late != "") print "missing-backmerge error " d late
    if (recent != "") print "missing-backmerge warning " d recent
  }
  if (cnt["K"] > 0) {
    for (i = 0; i < cnt["K"]; i++) { s = order["K", i]; all = all " " s; if (!(s in own)) onm = onm " " s }
    if (onm == "") exit
    if (sync["K", order["K", 0]]) exit
    if (!fix) { for (i = 0; i < cnt["K"]; i++) { s = order["K", i]; if (sync["K", s] && np["K", s] > 1) syn2 = syn2 " " s } }
    if (syn2 != "" && !covered("K", all, syn2, onm)) exit
    print "branched-from-master error " ref onm
  }
}'

last_fp() {  # from `rev-list --first-parent --parents A ^B`: the first-parent of the last line
  local lines=$1 fallback=$2
  if [[ -z $lines ]]; then echo "$fallback"; return; fi
  local l=${lines##*$'\n'}; l=${l#* }; echo "${l%% *}"
}

for i in "${!dnames[@]}"; do
  d=${dnames[$i]} dt=${dtips[$i]}
  # Both sides in one walk: M's first-parent chain not on D (ahead, then x), D's own commits.
  div=$(git log --format='%m%H %ct %P' "$mtip...$dt")
  read -r x ahead < <(awk -v m="$mtip" '
    /^</ { fp[substr($1, 2)] = $3 }
    END { c = m; a = ""; while (c in fp) { a = a " " c; c = fp[c] }; print (c == "" ? "-" : c) a }' <<<"$div")
  sections="@M"$'\n'"${ahead// /$'\n'}"
  if [[ $x != "-" ]]; then
    y=$(last_fp "$(git rev-list --first-parent --parents "$dt" "^$x")" "$dt")
    if [[ -n $y && $y != "$x" ]]; then
      X=$x Y=$y seg=""
      while :; do  # CUT: newest commit on both first-parent chains, by bounded walks
        lines=$(git rev-list --first-parent --parents "$X" "^$Y")
        [[ -n $lines ]] && seg+=$'\n'$(cut -d' ' -f1 <<<"$lines")
        z=$(last_fp "$lines" "$X")
        if [[ -z $z || $z == "$Y" ]]; then cut=$z; break; fi
        y2=$(last_fp "$(git rev-list --first-parent --parents "$Y" "^$z")" "$Y")
        if [[ -z $y2 || $y2 == "$z" ]]; then cut=$y2; break; fi
        X=$z Y=$y2
      done
      sections+="$seg"$'\n@L\n'$(git log --format="$LOGF" "$dt" ${cut:+"^$cut"})
    fi
  fi
  right=$(sed -n 's/^>//p' <<<"$div")
  if awk 'NF && NF < 4 { f = 1 } END { exit !f }' <<<"$right"; then  # a non-merge commit of D's own
    sections+=$'\n@R\n'"$right"$'\n@C\n'$(git rev-list --cherry-pick --right-only --no-merges "$mtip...$dt")
    sections+=$'\n@P'
    while read -r side sha src; do  # one `-x` line per output line: side sha source
      if [[ $side == "<" ]]; then sections+=$'\n'$src
      elif git merge-base --is-ancestor "$src" "$mtip" 2>/dev/null; then sections+=$'\n@B\n'$sha$'\n@P'; fi
    done < <(git log -z -F --grep='(cherry picked from commit ' --format='%m %H %B' "$mtip...$dt" |
      awk 'BEGIN { RS = "\0" } { for (i = 3; i <= NF; i++) if ($i == "commit" && $(i - 1) == "from") {
        s = $(i + 1); sub(/\).*/, "", s); print $1, $2, s } }')
  fi
  awk -v tip="$dt" -v d="$d" -v now="$NOW" -v days="$MAXDAYS" "$FINDINGS" <<<"$sections"
done

# The branch rule for the checked-out branch, judged against the (one) delivery branch.
if [[ -n $cur && $cur != "$M" && ${#dnames[@]} -gt 0 && ! ($cur == $GLOB) ]]; then
  dt=${dtips[0]} fix=0
  [[ $cur == $FIX ]] && fix=1
  own=$(git rev-list "$curtip" "^$dt" "^$mtip")
  awk -v ref="$cur" -v fix="$fix" "$FINDINGS" <<<"@O"$'\n'"$own"$'\n@K\n'"$(git log --format="$LOGF" "$curtip" "^$dt")"
fi
