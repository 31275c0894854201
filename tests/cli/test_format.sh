#!/usr/bin/env bash
# Every C++ file in the tree is formatted as .clang-format says, so a diff shows only what changed.
# Fix with: git ls-files '*.cpp' '*.h' | xargs clang-format -i
. "$(dirname "$0")/lib.sh"

command -v clang-format >/dev/null || fail "clang-format is not installed (.ci/deps.sh installs it)"
cd "$HS_SRC" || fail "no source tree at $HS_SRC"
mapfile -t files < <(git ls-files '*.cpp' '*.h' 2>/dev/null || find common tools tests -name '*.cpp' -o -name '*.h')
[ "${#files[@]}" -gt 100 ] || fail "found only ${#files[@]} C++ files under $HS_SRC"
run clang-format --dry-run --Werror "${files[@]}"
expect_rc 0 "clang-format --dry-run --Werror over ${#files[@]} files (first: $(head -c 300 <<<"$ERR"))"
ok
