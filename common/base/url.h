// Percent-decoding and query strings for the HTTP handlers (hs-control's /ts2021 and REST API,
// hs-derper's /bootstrap-dns). One decoder, so the '+' rule cannot differ between them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hs {

// '+' means a space only in a query component (HTML form encoding, which Go's url.ParseQuery
// and therefore Tailscale's clients follow); in a path it is a literal '+'. Clients that mean
// '+' in a query (base64 in X-Tailscale-Handshake) send %2B.
enum class Plus { Literal, Space };

// Decodes %XX escapes; a '%' not followed by two hex digits stays as written.
std::string url_unescape(std::string_view s, Plus plus);

// A request target split at its first '?': the path and the query after it ("" when absent).
std::string_view target_path(std::string_view target);
std::string_view target_query(std::string_view target);

// "a=1&b=x+y" as decoded pairs in order ('+' as space); "a" alone is ("a", ""), empty parts
// are skipped.
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);
// The decoded value of the first `key` in `query`; nullopt when absent.
std::optional<std::string> query_value(std::string_view query, std::string_view key);

}  // namespace hs
