// The ACME order state machine on hostile CA answers. The input is a list of answers split at
// NUL bytes: the first byte of each picks the status (2xx, 4xx, 5xx), the rest is the body. The
// machine must never throw past its API or read out of bounds, every Send it asks for is a
// request it can sign (a POST body that is a flattened JWS), and it ends (Done or Failed) or
// keeps asking within a bounded number of steps. base64url decoding gets the raw input too.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/acme/jws.h"
#include "common/acme/order.h"

namespace {

using namespace hs::acme;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    try {
        b64url_decode(in);
    } catch (const AcmeError&) {}
    // Key generation is slow next to one input: the keys are made once.
    static const EcKey account = EcKey::generate(), cert = EcKey::generate();
    const auto type = size && (data[0] & 1) ? ChallengeType::TlsAlpn01 : ChallengeType::Http01;
    Order order(OrderSettings{"https://ca/dir", "ops@hs.example", {"hs.example"}, type, 3}, account, cert);
    Action a = order.start();
    std::size_t pos = 0;
    for (int step = 0; step < 200; ++step) {
        switch (a.kind) {
            case Action::Kind::Send: {
                if (a.request.method == "POST") {
                    const auto jws = nlohmann::json::parse(a.request.body, nullptr, false);
                    check(jws.is_object() && jws.contains("protected") && jws.contains("signature"));
                }
                if (pos >= in.size()) return 0;
                std::size_t end = in.find('\0', pos);
                if (end == std::string_view::npos) end = in.size();
                const std::string_view rec = in.substr(pos, end - pos);
                pos = end + 1;
                const int status = rec.empty() ? 200 : rec[0] % 3 == 0 ? 200 : rec[0] % 3 == 1 ? 400 : 503;
                HttpResponse r{status, "https://ca/loc", "nonce", "1", std::string(rec.substr(rec.empty() ? 0 : 1))};
                a = order.on_response(r);
                break;
            }
            case Action::Kind::Publish:
                check(!a.challenge.key_authorization.empty());
                a = order.on_published();
                break;
            case Action::Kind::Wait:
                check(a.wait.count() >= 1000 && a.wait.count() <= 60000);
                a = order.on_waited();
                break;
            case Action::Kind::Failed: check(!a.error.empty()); return 0;
            case Action::Kind::Done: check(!order.certificate_chain().empty()); return 0;
        }
    }
    return 0;
}
