# fish completion for hs-keygen
set -l types machine node disco derp noise
complete -c hs-keygen -f
complete -c hs-keygen -n __fish_use_subcommand -a private -d 'Print a new private key'
complete -c hs-keygen -n __fish_use_subcommand -a public -d 'Derive the public key from stdin'
complete -c hs-keygen -n __fish_use_subcommand -l version -d 'Print the version'
complete -c hs-keygen -l log-level -x -a 'trace debug info warn error off' -d 'Log level'
complete -c hs-keygen -l log-format -x -a 'text json' -d 'Log format'
complete -c hs-keygen -n '__fish_seen_subcommand_from private public' -s t -l type -x -a "$types" -d 'Key type'
complete -c hs-keygen -n '__fish_seen_subcommand_from private' -l out -r -F -d 'Write to FILE (mode 0600)'
complete -c hs-keygen -n '__fish_seen_subcommand_from private' -l force -d 'Overwrite FILE'
complete -c hs-keygen -n '__fish_seen_subcommand_from private' -l format -x -a 'text json' -d 'Output format'
complete -c hs-keygen -n '__fish_seen_subcommand_from public' -l in -r -F -d 'Read the key from FILE'
