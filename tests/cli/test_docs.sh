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
# Each tool's fish completion must offer --version, and, for tools with subcommands, complete
# one from its first letters: "<typed> <expected>".
declare -A fish_probe=([hs-keygen]="pr private" [hs-admin]="pre preauthkeys" [hs-derpmap]="pro probe")
for f in "$HS_SRC"/completions/fish/*.fish; do
  name=$(basename "$f" .fish)
  run fish --no-config -c "source '$f'; complete -C'$name --ver'"
  expect_rc 0 "fish completion $f"; expect_out "--version" "fish completion $f"; ok
  if [ -n "${fish_probe[$name]:-}" ]; then
    read -r typed want <<<"${fish_probe[$name]}"
    run fish --no-config -c "source '$f'; complete -C'$name $typed'"
    expect_rc 0 "fish completion $f"; expect_out "$want" "fish completion $f"; ok
  fi
done
finish
