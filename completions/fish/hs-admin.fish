# fish completion for hs-admin
set -l nouns users user namespaces namespace ns preauthkeys preauthkey authkey pre apikeys apikey api nodes node machines machine routes route policy config auth health configtest import version
set -l users users user namespaces namespace ns
set -l keys preauthkeys preauthkey authkey pre
set -l nodes nodes node machines machine
set -l apikeys apikeys apikey api
set -l routes routes route
complete -c hs-admin -f
complete -c hs-admin -s c -l config -r -F -d 'Config file'
complete -c hs-admin -s o -l output -x -a 'table json json-line yaml' -d 'Output format'
complete -c hs-admin -l remote -x -d 'REST API of a remote hs-control'
complete -c hs-admin -l api-key -x -d 'API key for --remote'
complete -c hs-admin -l force -d 'Accepted for headscale scripts; never prompts'
complete -c hs-admin -l log-level -x -a 'trace debug info warn error off' -d 'Log level'
complete -c hs-admin -l log-format -x -a 'text json' -d 'Log format'
complete -c hs-admin -n __fish_use_subcommand -l version -d 'Print the version'

complete -c hs-admin -n "not __fish_seen_subcommand_from $nouns" -a users -d 'Create and list users'
complete -c hs-admin -n "not __fish_seen_subcommand_from $nouns" -a preauthkeys -d 'Create, list and expire pre-auth keys'
complete -c hs-admin -n "not __fish_seen_subcommand_from $nouns" -a nodes -d 'List, register, expire, rename and delete nodes'
complete -c hs-admin -n "not __fish_seen_subcommand_from $nouns" -a apikeys -d 'API keys for the REST API'
complete -c hs-admin -n "not __fish_seen_subcommand_from $nouns" -a routes -d 'Subnet routes and exit nodes'
complete -c hs-admin -n "not __fish_seen_subcommand_from $nouns" -a policy -d 'The ACL policy'
complete -c hs-admin -n "not __fish_seen_subcommand_from $nouns" -a config -d 'Check a configuration file'
complete -c hs-admin -n "not __fish_seen_subcommand_from $nouns" -a auth -d 'Approve interactive logins'
complete -c hs-admin -n "not __fish_seen_subcommand_from $nouns" -a health -d 'Check that the database answers'
complete -c hs-admin -n "not __fish_seen_subcommand_from $nouns" -a configtest -d 'Check the config, DERP maps, database and policy'
complete -c hs-admin -n "not __fish_seen_subcommand_from $nouns" -a import -d 'Import a headscale database'
complete -c hs-admin -n "not __fish_seen_subcommand_from $nouns" -a version -d 'Print the version'
complete -c hs-admin -n "__fish_seen_subcommand_from import; and not __fish_seen_subcommand_from headscale" -a headscale -d 'Import a headscale SQLite database'
complete -c hs-admin -n "__fish_seen_subcommand_from import; and __fish_seen_subcommand_from headscale" -l dry-run -d 'Print what would be imported'
complete -c hs-admin -n "__fish_seen_subcommand_from import; and __fish_seen_subcommand_from headscale" -l in-place -d 'Move the headscale file aside and create the hs database at its path'

complete -c hs-admin -n "__fish_seen_subcommand_from $users; and not __fish_seen_subcommand_from create list rename delete unlock set-password mfa" -a 'create list rename delete unlock set-password mfa'
complete -c hs-admin -n "__fish_seen_subcommand_from $users; and __fish_seen_subcommand_from rename delete" -s i -l identifier -x -d 'User ID'
complete -c hs-admin -n "__fish_seen_subcommand_from $users; and __fish_seen_subcommand_from rename delete" -s n -l name -x -d 'User name'
complete -c hs-admin -n "__fish_seen_subcommand_from $users; and __fish_seen_subcommand_from rename" -s r -l new-name -x -d 'New name'
complete -c hs-admin -n "__fish_seen_subcommand_from $users; and __fish_seen_subcommand_from create" -s d -l display-name -x -d 'Display name'
complete -c hs-admin -n "__fish_seen_subcommand_from $users; and __fish_seen_subcommand_from create" -s p -l picture-url -x -d 'Profile picture URL'
complete -c hs-admin -n "__fish_seen_subcommand_from $users" -s e -l email -x -d 'E-mail address'
complete -c hs-admin -n "__fish_seen_subcommand_from $users; and __fish_seen_subcommand_from list" -s i -l identifier -x -d 'User ID'
complete -c hs-admin -n "__fish_seen_subcommand_from $users; and __fish_seen_subcommand_from list" -s n -l name -x -d 'User name'

complete -c hs-admin -n "__fish_seen_subcommand_from $keys; and not __fish_seen_subcommand_from create list expire delete unlock" -a 'create list expire delete unlock'
complete -c hs-admin -n "__fish_seen_subcommand_from $keys; and __fish_seen_subcommand_from create list" -s u -l user -x -d 'User name or ID'
complete -c hs-admin -n "__fish_seen_subcommand_from $keys; and __fish_seen_subcommand_from create" -l reusable -d 'Register many nodes'
complete -c hs-admin -n "__fish_seen_subcommand_from $keys; and __fish_seen_subcommand_from create" -l ephemeral -d 'Nodes are removed when offline'
complete -c hs-admin -n "__fish_seen_subcommand_from $keys; and __fish_seen_subcommand_from create" -s e -l expiration -x -a '1h 24h 7d 90d 0' -d 'Lifetime, 0 = never'
complete -c hs-admin -n "__fish_seen_subcommand_from $keys; and __fish_seen_subcommand_from create" -l tags -x -d 'tag:a,tag:b'
complete -c hs-admin -n "__fish_seen_subcommand_from $keys; and __fish_seen_subcommand_from expire delete" -s i -l id -x -d 'Key ID'

complete -c hs-admin -n "__fish_seen_subcommand_from $apikeys; and not __fish_seen_subcommand_from create list expire delete unlock" -a 'create list expire delete unlock'
complete -c hs-admin -n "__fish_seen_subcommand_from $apikeys; and __fish_seen_subcommand_from create" -s e -l expiration -x -a '30d 90d 1y 0' -d 'Lifetime, 0 = never'
complete -c hs-admin -n "__fish_seen_subcommand_from $apikeys; and __fish_seen_subcommand_from expire delete" -s i -l id -x -d 'Key ID'
complete -c hs-admin -n "__fish_seen_subcommand_from $apikeys; and __fish_seen_subcommand_from expire delete" -s p -l prefix -x -d 'Key prefix'

set -l nodeverbs list show register approve expire rename delete move tag approve-routes list-routes backfill-ips
complete -c hs-admin -n "__fish_seen_subcommand_from $nodes; and not __fish_seen_subcommand_from $nodeverbs" -a "$nodeverbs"
complete -c hs-admin -n "__fish_seen_subcommand_from $nodes; and __fish_seen_subcommand_from list register move" -s u -l user -x -d 'User name or ID'
complete -c hs-admin -n "__fish_seen_subcommand_from $nodes; and __fish_seen_subcommand_from list" -s t -l tag -x -d 'Only nodes with this tag'
complete -c hs-admin -n "__fish_seen_subcommand_from $nodes; and __fish_seen_subcommand_from list" -l online -d 'Only connected nodes'
complete -c hs-admin -n "__fish_seen_subcommand_from $nodes; and __fish_seen_subcommand_from list" -l expired -d 'Only expired nodes'
complete -c hs-admin -n "__fish_seen_subcommand_from $nodes; and __fish_seen_subcommand_from register" -s k -l key -x -d 'Registration ID'
complete -c hs-admin -n "__fish_seen_subcommand_from $nodes; and __fish_seen_subcommand_from show expire rename delete move tag approve-routes list-routes" -s i -l identifier -x -d 'Node ID'
complete -c hs-admin -n "__fish_seen_subcommand_from $nodes; and __fish_seen_subcommand_from expire" -s e -l expiry -x -d 'Expire at this RFC 3339 time'
complete -c hs-admin -n "__fish_seen_subcommand_from $nodes; and __fish_seen_subcommand_from expire" -s d -l disable -d 'Never expire'
complete -c hs-admin -n "__fish_seen_subcommand_from $nodes; and __fish_seen_subcommand_from tag" -s t -l tags -x -d 'tag:a,tag:b'
complete -c hs-admin -n "__fish_seen_subcommand_from $nodes; and __fish_seen_subcommand_from approve-routes" -s r -l routes -x -d 'CIDR,CIDR,...'

complete -c hs-admin -n "__fish_seen_subcommand_from $routes; and not __fish_seen_subcommand_from list approve unapprove" -a 'list approve unapprove'
complete -c hs-admin -n "__fish_seen_subcommand_from $routes; and __fish_seen_subcommand_from list approve unapprove" -s i -l identifier -x -d 'Node ID'
complete -c hs-admin -n "__fish_seen_subcommand_from $routes; and __fish_seen_subcommand_from approve unapprove" -s r -l routes -x -d 'CIDR,CIDR,...'

complete -c hs-admin -n "__fish_seen_subcommand_from policy; and not __fish_seen_subcommand_from get set check test filter peers explain" -a 'get set check test filter peers explain'
complete -c hs-admin -n "__fish_seen_subcommand_from policy; and __fish_seen_subcommand_from test" -l test -x -d 'An extra test (JSON)'
complete -c hs-admin -n "__fish_seen_subcommand_from policy; and __fish_seen_subcommand_from explain" -l proto -x -a 'tcp udp icmp sctp' -d 'Protocol'
complete -c hs-admin -n "__fish_seen_subcommand_from policy; and __fish_seen_subcommand_from set check" -s f -l file -r -F -d 'Policy file (HuJSON)'
complete -c hs-admin -n "__fish_seen_subcommand_from config; and not __fish_seen_subcommand_from check" -a check -d 'Validate and print the config'

complete -c hs-admin -n "__fish_seen_subcommand_from auth; and not __fish_seen_subcommand_from register approve reject" -a register -d 'Approve an interactive login for a user'
complete -c hs-admin -n "__fish_seen_subcommand_from auth; and not __fish_seen_subcommand_from register approve reject" -a approve -d 'Let a known node log in again'
complete -c hs-admin -n "__fish_seen_subcommand_from auth; and not __fish_seen_subcommand_from register approve reject" -a reject -d 'Refuse a waiting login'
complete -c hs-admin -n "__fish_seen_subcommand_from auth; and __fish_seen_subcommand_from register approve reject" -l auth-id -x -d 'Registration ID'
complete -c hs-admin -n "__fish_seen_subcommand_from auth; and __fish_seen_subcommand_from register" -s u -l user -x -d 'User name or ID'
