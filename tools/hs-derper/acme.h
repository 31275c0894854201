// hs-derper's --certmode letsencrypt: derper's flags (--hostname, --certdir as the cache,
// --http-port for HTTP-01 and the redirect to HTTPS) plus hs's --acme-url, --acme-email and
// --acme-challenge.
#pragma once

#include <memory>

#include "common/acme/net/live_tls.h"
#include "common/acme/net/manager.h"
#include "tools/hs-derper/options.h"

namespace hs::derper {

// Throws std::runtime_error naming the flag for combinations that cannot work.
void check_acme_options(const Options& o);
// Prepared (cache checked, cached certificate loaded, HTTP listener bound), not yet started.
std::unique_ptr<acme::CertManager> make_cert_manager(const Options& o, const boost::asio::any_io_executor& ex,
                                                     acme::LiveTls& tls);

}  // namespace hs::derper
