# fish completion for hs-derpmap
set -l cmds new add-node remove-region remove-node convert merge check probe
complete -c hs-derpmap -f
complete -c hs-derpmap -n "not __fish_seen_subcommand_from $cmds" -a new -d 'Print a map with one region'
complete -c hs-derpmap -n "not __fish_seen_subcommand_from $cmds" -a add-node -d 'Add nodes to a map'
complete -c hs-derpmap -n "not __fish_seen_subcommand_from $cmds" -a remove-region -d 'Remove a region'
complete -c hs-derpmap -n "not __fish_seen_subcommand_from $cmds" -a remove-node -d 'Remove a node'
complete -c hs-derpmap -n "not __fish_seen_subcommand_from $cmds" -a convert -d 'Convert between YAML and JSON'
complete -c hs-derpmap -n "not __fish_seen_subcommand_from $cmds" -a merge -d 'Merge maps from files and URLs'
complete -c hs-derpmap -n "not __fish_seen_subcommand_from $cmds" -a check -d 'Validate a map'
complete -c hs-derpmap -n "not __fish_seen_subcommand_from $cmds" -a probe -d 'Measure every node'
complete -c hs-derpmap -n "not __fish_seen_subcommand_from $cmds" -l version -d 'Print the version'
complete -c hs-derpmap -l log-level -x -a 'trace debug info warn error off' -d 'Log level'
complete -c hs-derpmap -l log-format -x -a 'text json' -d 'Log format'
complete -c hs-derpmap -n '__fish_seen_subcommand_from new add-node' -l region-id -x -d 'Region ID'
complete -c hs-derpmap -n '__fish_seen_subcommand_from new add-node' -l region-code -x -d 'Region code'
complete -c hs-derpmap -n '__fish_seen_subcommand_from new add-node' -l region-name -x -d 'Region name'
complete -c hs-derpmap -n '__fish_seen_subcommand_from new add-node' -l node -x -d 'name=N,host=H,ipv4=,ipv6=,stun=,derp=,...'
complete -c hs-derpmap -n '__fish_seen_subcommand_from new add-node remove-region remove-node convert merge' -s o -l output -x -a 'yaml json' -d 'Output format'
complete -c hs-derpmap -n '__fish_seen_subcommand_from probe' -s o -l output -x -a 'table json' -d 'Output format'
complete -c hs-derpmap -n '__fish_seen_subcommand_from merge probe' -l timeout -x -d 'Time limit, e.g. 3s'
complete -c hs-derpmap -n '__fish_seen_subcommand_from merge' -l config -r -F -d 'Build the map hs-control serves from this config'
complete -c hs-derpmap -n '__fish_seen_subcommand_from add-node remove-region remove-node convert merge check probe' -F
