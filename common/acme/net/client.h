// One ACME request over HTTP(S) as a coroutine on the caller's executor: hs-control's single
// event loop keeps serving while the CA answers. The CA's certificate is verified against the
// system store (OpenSSL's default paths, so SSL_CERT_FILE points it elsewhere).
#pragma once

#include <chrono>

#include "common/acme/order.h"
#include "common/net/asio.h"

namespace hs::acme {

// Throws AcmeError "cannot reach the ACME server at URL: reason" for failures before an HTTP
// answer (DNS, connect, TLS, timeout, an answer over 1 MiB).
boost::asio::awaitable<HttpResponse> exchange(HttpRequest req, std::chrono::seconds timeout);

}  // namespace hs::acme
