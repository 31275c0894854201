// The X.509 pieces of ACME: the CSR sent at finalize (RFC 8555 §7.4), the TLS-ALPN-01
// validation certificate (RFC 8737 §3), and reading an issued chain to plan its renewal.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/acme/jws.h"

namespace hs::acme {

using SysTime = std::chrono::system_clock::time_point;

// DER of a PKCS#10 request signed by `key` for `names` (the first is also the subject CN, all
// are dNSName subject alternative names).
std::string make_csr(const EcKey& key, const std::vector<std::string>& names);

// RFC 8737 §3: a self-signed certificate for `hostname` whose critical acmeIdentifier extension
// (1.3.6.1.5.5.7.1.31) holds SHA-256(key_authorization). Returned as PEM.
std::string tls_alpn_certificate(const EcKey& key, const std::string& hostname, const std::string& key_authorization);

// What renewal needs from a PEM chain's first (leaf) certificate. Throws AcmeError for text
// that holds no certificate.
struct CertInfo {
    SysTime not_before, not_after;
    std::vector<std::string> dns_names;  // subject alternative names of type dNSName
    std::string serial_hex;
};
CertInfo inspect_certificate(const std::string& chain_pem);

// Whether `key` is the private key of the chain's leaf.
bool certificate_matches_key(const std::string& chain_pem, const EcKey& key);

// When to renew: once two thirds of the validity have passed, as certbot and Let's Encrypt's
// guidance do (30 days before a 90-day certificate ends). Short certificates renew as early.
SysTime renewal_time(const CertInfo& c);

}  // namespace hs::acme
