#!/usr/bin/env bash
# Every shell script of the tree in one style: shfmt with Google's shell style (2-space indent,
# case arms indented, && || | starting the continued line). Exit status: 0 clean, 1 with the
# diff printed, 77 when shfmt is not installed (scripts/install-deps.sh installs it).
#   scripts/check-shell.sh        check
#   scripts/check-shell.sh --fix  rewrite the scripts in place
set -euo pipefail

style=(-i 2 -ci -bn)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
if ! command -v shfmt >/dev/null 2>&1; then
  echo "check-shell.sh: SKIP: shfmt is not installed (apt-get install shfmt)" >&2
  exit 77
fi
if git rev-parse --git-dir >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.sh' .ci/run)
else
  mapfile -t files < <(find scripts tests -name '*.sh')
  files+=(.ci/run)
fi
if [[ ${1:-} == --fix ]]; then
  shfmt "${style[@]}" -w "${files[@]}"
elif shfmt "${style[@]}" -d "${files[@]}"; then
  echo "check-shell.sh: ${#files[@]} scripts formatted as shfmt ${style[*]} says"
else
  echo "check-shell.sh: run scripts/check-shell.sh --fix" >&2
  exit 1
fi
