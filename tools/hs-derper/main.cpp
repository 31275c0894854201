// hs-derper: a DERP relay and STUN server for Tailscale clients, flag-compatible with derper
// where the meaning is the same.
#include "common/base/cli.h"
#include "tools/hs-derper/options.h"

int main(int argc, char** argv) {
    CLI::App app{
        "Relay Tailscale traffic (DERP over HTTPS) and answer STUN.\n\n"
        "  hs-derper -a :443 --hostname derp.example.com --certdir /etc/hs/certs\n",
        "hs-derper"};
    hs::CommonFlags flags;
    hs::add_common_flags(app, flags);
    hs::derper::Options o;
    app.add_option("-a,--addr", o.addr, "Listen address: :PORT, IP:PORT or [IPv6]:PORT")->capture_default_str();
    app.add_option("-c,--config", o.key_file, "Server key file (derper JSON or privkey:...), created 0600 if missing")
        ->capture_default_str();
    app.add_option(
           "--certmode", o.certmode,
           "How to get the TLS certificate: manual (files in --certdir) or letsencrypt (ACME, cached in --certdir)")
        ->check(CLI::IsMember({"manual", "letsencrypt"}))
        ->capture_default_str();
    app.add_option("--certdir", o.certdir, "Directory holding HOSTNAME.crt and HOSTNAME.key (and the ACME account key)")
        ->capture_default_str();
    app.add_option("--acme-url", o.acme_url, "ACME directory URL (letsencrypt mode)")->capture_default_str();
    app.add_option("--acme-email", o.acme_email, "Contact address for the ACME account (letsencrypt mode)");
    app.add_option("--acme-challenge", o.acme_challenge,
                   "ACME challenge: TLS-ALPN-01 (on --addr) or HTTP-01 (on --http-port)")
        ->capture_default_str();
    app.add_option("--http-port", o.http_port,
                   "Letsencrypt mode: plain-HTTP port for HTTP-01 and redirects to HTTPS, on --addr's IP (-1: none)")
        ->capture_default_str();
    app.add_option("--hostname", o.hostname, "TLS host name (or IP) the certificate is for");
    app.add_flag("--self-signed", o.self_signed, "Make a self-signed certificate for --hostname in memory");
    app.add_flag("--http", o.plain_http, "Serve plain HTTP instead of TLS (clients need TS_DEBUG_USE_DERP_HTTP=1)");
    app.add_flag("--stun", o.stun, "Run STUN on the same IP (--stun=false to disable)")->capture_default_str();
    app.add_option("--stun-port", o.stun_port, "UDP port for STUN")->capture_default_str();
    auto* verify =
        app.add_flag("--verify-clients", o.verify_clients, "Admit only node keys of unexpired nodes in --db");
    verify->needs(app.add_option(
        "--db", o.db_path,
        "hs-control's database, opened read-only: the SQLite file, or PostgreSQL as a postgres:// or "
        "postgresql:// URL or a libpq keyword string (\"host=/run/postgresql dbname=hs user=hs\": a first word "
        "followed by '=' means PostgreSQL; ./NAME is always a file). Keep the password in PGPASSFILE or "
        "~/.pgpass: the command line is visible in ps"));
    app.add_option("--verify-client-url", o.verify_client_url,
                   "Admission webhook: POST {NodePublic, Source}, admit on 200 {\"Allow\":true}");
    app.add_flag("--verify-client-url-fail-open", o.verify_client_url_fail_open,
                 "Admit when the webhook cannot be reached (--verify-client-url-fail-open=false refuses)")
        ->capture_default_str();
    app.add_option("--mesh-psk-file", o.mesh_psk_file, "File with the 64-hex-digit mesh key of this region");
    app.add_option("--mesh-with", o.mesh_with,
                   "Comma list of the region's other derpers (HOST[:PORT][/DIALHOST]) to mesh with");
    app.add_option("--bootstrap-dns-names", o.bootstrap_dns_names,
                   "Comma list of names /bootstrap-dns resolves for clients whose DNS is broken");
    app.add_option("--unpublished-bootstrap-dns-names", o.unpublished_bootstrap_dns_names,
                   "Comma list of names /bootstrap-dns answers only when asked for by ?q=NAME");
    app.add_option("--metrics-addr", o.metrics_addr, "Serve Prometheus metrics at http://ADDR/metrics");
    app.add_option("--tcp-write-timeout", o.tcp_write_timeout,
                   "How long a client may take to accept a write (0: no limit)")
        ->check(hs::duration_validator())
        ->capture_default_str();
    return hs::run_main(app, flags, argc, argv, [&] { return hs::derper::run(o); });
}
