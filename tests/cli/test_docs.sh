#!/usr/bin/env bash
# Man pages render without warnings, and completion scripts load in bash, zsh and fish.
. "$(dirname "$0")/lib.sh"

for page in "$HS_SRC"/man/*.[0-9]; do
  run env MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l "$page"
  expect_rc 0 "man $page"
  [ -z "$ERR" ] || fail "man $(basename "$page") printed warnings"
  expect_out "NAME" "man $page"
  ok
done

for f in "$HS_SRC"/completions/bash/*; do
  run bash -c "source /usr/share/bash-completion/bash_completion; source '$f'; complete -p $(basename "$f")"
  expect_rc 0 "bash completion $f"; expect_out "complete -F" "bash completion $f"; ok
done
for f in "$HS_SRC"/completions/zsh/_*; do
  run zsh -f -c "autoload -Uz compinit; compinit -u -D; fpath=('$(dirname "$f")' \$fpath); autoload -Uz $(basename "$f"); whence -w $(basename "$f")"
  expect_rc 0 "zsh completion $f"; ok
  run zsh -f -n "$f"; expect_rc 0 "zsh syntax $f"; ok
done
for f in "$HS_SRC"/completions/fish/*.fish; do
  name=$(basename "$f" .fish)
  run fish --no-config -c "source '$f'; complete -C'$name pr'"
  expect_rc 0 "fish completion $f"; expect_out "private" "fish completion $f"; ok
done
finish
