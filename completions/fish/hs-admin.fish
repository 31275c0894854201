# fish completion for hs-admin
set -l nouns users user namespaces namespace ns preauthkeys preauthkey authkey pre nodes node machines machine auth version
set -l users users user namespaces namespace ns
set -l keys preauthkeys preauthkey authkey pre
set -l nodes nodes node machines machine
complete -c hs-admin -f
complete -c hs-admin -s c -l config -r -F -d 'Config file'
complete -c hs-admin -s o -l output -x -a 'table json json-line yaml' -d 'Output format'
complete -c hs-admin -l force -d 'Accepted for headscale scripts; never prompts'
complete -c hs-admin -l log-level -x -a 'trace debug info warn error off' -d 'Log level'
complete -c hs-admin -l log-format -x -a 'text json' -d 'Log format'
complete -c hs-admin -n __fish_use_subcommand -l version -d 'Print the version'

complete -c hs-admin -n "not __fish_seen_subcommand_from $nouns" -a users -d 'Create and list users'
complete -c hs-admin -n "not __fish_seen_subcommand_from $nouns" -a preauthkeys -d 'Create, list and expire pre-auth keys'
complete -c hs-admin -n "not __fish_seen_subcommand_from $nouns" -a nodes -d 'List, register, expire, rename and delete nodes'
complete -c hs-admin -n "not __fish_seen_subcommand_from $nouns" -a auth -d 'Approve interactive logins'
complete -c hs-admin -n "not __fish_seen_subcommand_from $nouns" -a version -d 'Print the version'

complete -c hs-admin -n "__fish_seen_subcommand_from $users; and not __fish_seen_subcommand_from create list" -a 'create list'
complete -c hs-admin -n "__fish_seen_subcommand_from $users; and __fish_seen_subcommand_from create" -s d -l display-name -x -d 'Display name'
complete -c hs-admin -n "__fish_seen_subcommand_from $users" -s e -l email -x -d 'E-mail address'
complete -c hs-admin -n "__fish_seen_subcommand_from $users; and __fish_seen_subcommand_from list" -s i -l identifier -x -d 'User ID'
complete -c hs-admin -n "__fish_seen_subcommand_from $users; and __fish_seen_subcommand_from list" -s n -l name -x -d 'User name'

complete -c hs-admin -n "__fish_seen_subcommand_from $keys; and not __fish_seen_subcommand_from create list expire" -a 'create list expire'
complete -c hs-admin -n "__fish_seen_subcommand_from $keys; and __fish_seen_subcommand_from create list" -s u -l user -x -d 'User name or ID'
complete -c hs-admin -n "__fish_seen_subcommand_from $keys; and __fish_seen_subcommand_from create" -l reusable -d 'Register many nodes'
complete -c hs-admin -n "__fish_seen_subcommand_from $keys; and __fish_seen_subcommand_from create" -l ephemeral -d 'Nodes are removed when offline'
complete -c hs-admin -n "__fish_seen_subcommand_from $keys; and __fish_seen_subcommand_from create" -s e -l expiration -x -a '1h 24h 7d 90d 0' -d 'Lifetime, 0 = never'
complete -c hs-admin -n "__fish_seen_subcommand_from $keys; and __fish_seen_subcommand_from create" -l tags -x -d 'tag:a,tag:b'
complete -c hs-admin -n "__fish_seen_subcommand_from $keys; and __fish_seen_subcommand_from expire" -s i -l id -x -d 'Key ID'

complete -c hs-admin -n "__fish_seen_subcommand_from $nodes; and not __fish_seen_subcommand_from list register expire rename delete" -a 'list register expire rename delete'
complete -c hs-admin -n "__fish_seen_subcommand_from $nodes; and __fish_seen_subcommand_from list register" -s u -l user -x -d 'User name or ID'
complete -c hs-admin -n "__fish_seen_subcommand_from $nodes; and __fish_seen_subcommand_from register" -s k -l key -x -d 'Registration ID'
complete -c hs-admin -n "__fish_seen_subcommand_from $nodes; and __fish_seen_subcommand_from expire rename delete" -s i -l identifier -x -d 'Node ID'

complete -c hs-admin -n "__fish_seen_subcommand_from auth; and not __fish_seen_subcommand_from register" -a register -d 'Approve an interactive login'
complete -c hs-admin -n "__fish_seen_subcommand_from auth; and __fish_seen_subcommand_from register" -l auth-id -x -d 'Registration ID'
complete -c hs-admin -n "__fish_seen_subcommand_from auth; and __fish_seen_subcommand_from register" -s u -l user -x -d 'User name or ID'
