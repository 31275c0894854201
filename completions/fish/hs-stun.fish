# fish completion for hs-stun
complete -c hs-stun -f
complete -c hs-stun -l version -d 'Print the version'
complete -c hs-stun -l log-level -x -a 'trace debug info warn error off' -d 'Log level'
complete -c hs-stun -l log-format -x -a 'text json' -d 'Log format'
complete -c hs-stun -s a -l addr -x -d 'UDP listen address (:PORT, IP:PORT)'
complete -c hs-stun -l stats-interval -x -d 'How often to log the counters'
complete -c hs-stun -l metrics-addr -x -d 'Serve Prometheus metrics at http://ADDR/metrics'
