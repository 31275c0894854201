# fish completion for hs-control
complete -c hs-control -f
complete -c hs-control -s c -l config -r -F -d 'Configuration file'
complete -c hs-control -l check -d 'Validate the configuration and exit'
complete -c hs-control -l log-level -x -a 'trace debug info warn error off' -d 'Log level'
complete -c hs-control -l log-format -x -a 'text json' -d 'Log format'
complete -c hs-control -l version -d 'Print the version'
