// TLS server contexts: a certificate from files (derper's manual mode) or made in memory.
#pragma once

#include <string>

#include <boost/asio/ssl/context.hpp>

namespace hs {

// derper's file naming: <certdir>/<hostname>.crt and .key, the host name reduced to
// [A-Za-z0-9.-] so it cannot leave the directory.
std::string cert_path(const std::string& certdir, const std::string& hostname, const char* ext);

// A server context (TLS 1.2 and up) holding the certificate chain and key from the files.
// Throws std::runtime_error naming the file on failure, also for a key others may read (one
// only the group may read is accepted with a warning, see check_private_file).
boost::asio::ssl::context tls_from_files(const std::string& cert_file, const std::string& key_file);

// A server context with a fresh self-signed ECDSA P-256 certificate valid for one year, whose
// subject alternative name is `hostname` (an IP address or a DNS name). `sha256_hex` receives
// the SHA-256 of the certificate's DER, for a DERPNode's CertName "sha256-raw:<hex>".
boost::asio::ssl::context tls_self_signed(const std::string& hostname, std::string& sha256_hex);

// Appends derper's "meta certificate" to the context's chain: a throwaway self-signed Ed25519
// certificate whose subject CN is "derpkey" + the DERP server's public key in hex and whose
// serial is the DERP protocol version. A client that sees it over TLS 1.3 already knows the
// server key, so it sends ClientInfo right behind its request ("Derp-Fast-Start: 1") and saves
// a round trip. Clients verify only the leaf (and sha256-raw pins skip "derpkey" certificates),
// so it changes nothing for them otherwise. Call after the leaf certificate is set.
void add_derp_meta_cert(boost::asio::ssl::context& ctx, const std::string& server_key_hex, int protocol_version);
// The same certificate as PEM, for contexts whose chain is set per connection (ACME's LiveTls).
std::string derp_meta_cert_pem(const std::string& server_key_hex, int protocol_version);

}  // namespace hs
