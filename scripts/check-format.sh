#!/usr/bin/env bash
# Every C and C++ file of the tree formatted as .clang-format says (clang-format --dry-run
# --Werror). Exit status: 0 clean, 1 with the offending files and lines printed, 77 when
# clang-format is not installed (scripts/install-deps.sh installs it).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
if ! command -v clang-format >/dev/null 2>&1; then
  echo "check-format.sh: SKIP: clang-format is not installed (apt-get install clang-format)" >&2
  exit 77
fi
if git rev-parse --git-dir >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.c' '*.h' '*.cpp')
else
  mapfile -t files < <(find core bridge samples tests -name '*.c' -o -name '*.h' -o -name '*.cpp')
fi
if clang-format --dry-run --Werror "${files[@]}"; then
  echo "check-format.sh: ${#files[@]} files formatted as .clang-format says"
else
  echo "check-format.sh: run clang-format -i on the files above" >&2
  exit 1
fi
