// What a webhook delivery consists of, transport-free (docs/security.md, "Webhooks"): the
// signed request and the retry schedule. hs-control's delivery threads (tools/hs-control/
// webhooks.cpp) do the I/O.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace hs::admin {

// The signature header's value for a delivery at unix time `timestamp` (the X-Hs-Timestamp
// header): "sha256=" and the lowercase hex HMAC-SHA256, keyed with `secret`, of
// "<timestamp>.<body>". Binding the time in stops a captured request from being replayed
// later to a receiver that checks the timestamp's age.
std::string webhook_signature(std::string_view secret, std::string_view timestamp, std::string_view body);

// How long to wait before the next try after `failures` failed tries of one event (failures
// >= 1): 1 s doubling each time, at most kMaxRetryDelay. The receiver's outage ends at most
// that long before the backlog starts flowing again.
inline constexpr std::chrono::seconds kMaxRetryDelay{600};
std::chrono::seconds webhook_retry_delay(int failures);
// An event still undelivered this long after its first failed try is given up (logged and
// counted as dropped) so one event a receiver always refuses cannot hold back the rest forever.
inline constexpr std::chrono::hours kGiveUpAfter{24};

// Whether a webhook with this `events:` filter wants `event` (empty filter: all of them).
bool webhook_wants(const std::vector<std::string>& filter, std::string_view event);

// The webhook secret in `path`'s content (read_secret_file: environment variables in the path
// expanded, whitespace around the secret removed). Throws FileError naming the file when it is
// unreadable or holds nothing.
std::string read_webhook_secret(const std::string& path);

}  // namespace hs::admin
