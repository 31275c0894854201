// Webhook signatures and the retry schedule (webhook.h).
#include "common/admin/webhook.h"

#include <sodium.h>

#include <algorithm>

#include "common/base/secret_file.h"

namespace hs::admin {

std::string webhook_signature(std::string_view secret, std::string_view timestamp, std::string_view body) {
    // libsodium's HMAC-SHA256 takes keys of any length through the streaming interface
    // (a key over 64 bytes is hashed first, as RFC 2104 says).
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(timestamp.data()), timestamp.size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>("."), 1);
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(body.data()), body.size());
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_final(&st, mac);
    char hex[2 * sizeof mac + 1];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    return std::string("sha256=") + hex;
}

std::chrono::seconds webhook_retry_delay(int failures) {
    if (failures < 1) return std::chrono::seconds(0);
    // 2^10 s already exceeds the cap; stop shifting before it could overflow.
    const auto d = std::chrono::seconds(1LL << std::min(failures - 1, 10));
    return std::min(d, kMaxRetryDelay);
}

bool webhook_wants(const std::vector<std::string>& filter, std::string_view event) {
    return filter.empty() || std::find(filter.begin(), filter.end(), event) != filter.end();
}

std::string read_webhook_secret(const std::string& path) { return read_secret_file("webhook secret_path", path); }

}  // namespace hs::admin
