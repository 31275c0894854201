// derper's admission webhook (hs-derper --verify-client-url). For each connecting client (mesh
// peers excepted) the server POSTs {"NodePublic":"nodekey:<hex>","Source":"<client IP>"} and admits
// the client only on status 200 with {"Allow":true}. An unreachable webhook admits when
// --verify-client-url-fail-open is true (derper's default), else refuses.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/derp/net/conn.h"

namespace hs::derp {

// The request body, as derper sends it.
std::string webhook_body(const PublicKey& key, const IpAddr& source);
// Whether a webhook answer admits the client: 200 and a JSON object whose Allow is true
// (key matched case-insensitively, as Go's decoder does). Anything else refuses.
bool webhook_allows(int status, std::string_view body);

class WebhookVerifier {
public:
    // The calls block on the network, so they run on `pool`, never on a connection's thread.
    WebhookVerifier(std::string url, bool fail_open, net::any_io_executor pool,
                    std::chrono::milliseconds timeout = std::chrono::seconds(5));
    net::awaitable<bool> admit(const PublicKey& key, const ConnMeta& meta);

private:
    bool ask(const PublicKey& key, const IpAddr& source) const;

    std::string url_;
    bool fail_open_;
    net::any_io_executor pool_;
    std::chrono::milliseconds timeout_;
};

}  // namespace hs::derp
