// hs-derper's settings, filled from the command line by main.cpp and used by run().
#pragma once

#include <string>

namespace hs::derper {

struct Options {
    std::string addr = ":443";
    std::string key_file = "/var/lib/hs/derper.key";
    std::string certmode = "manual";  // or "letsencrypt" (ACME)
    std::string acme_url = "https://acme-v02.api.letsencrypt.org/directory";
    std::string acme_email;
    std::string acme_challenge = "TLS-ALPN-01";
    int http_port = 80;  // HTTP-01 and the redirect to HTTPS in letsencrypt mode; -1: none
    std::string certdir = "/var/lib/hs/derper-certs";
    std::string hostname;
    bool self_signed = false;
    bool plain_http = false;
    bool stun = true;
    int stun_port = 3478;
    bool verify_clients = false;
    std::string db_path;
    std::string verify_client_url;  // derper's admission webhook
    bool verify_client_url_fail_open = true;
    std::string mesh_psk_file;
    std::string mesh_with;  // comma list of HOST[:PORT][/DIALHOST]
    std::string metrics_addr;
    std::string bootstrap_dns_names;              // published on /bootstrap-dns
    std::string unpublished_bootstrap_dns_names;  // only for ?q=<name>
    std::string tcp_write_timeout = "5s";         // a duration: "2s", "500ms", "0" for none
};

// Serves until SIGINT or SIGTERM. Returns the exit code; throws on setup errors (bind, keys,
// certificates, database) with a message naming what failed.
int run(const Options& opts);

}  // namespace hs::derper
