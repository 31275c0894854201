#include "common/base/url.h"

namespace hs {
namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::string url_unescape(std::string_view s, Plus plus) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        const int hi = s[i] == '%' && i + 2 < s.size() ? hex_digit(s[i + 1]) : -1;
        const int lo = hi >= 0 ? hex_digit(s[i + 2]) : -1;
        if (lo >= 0) {
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else {
            out.push_back(s[i] == '+' && plus == Plus::Space ? ' ' : s[i]);
        }
    }
    return out;
}

std::string_view target_path(std::string_view target) { return target.substr(0, target.find('?')); }

std::string_view target_query(std::string_view target) {
    const auto q = target.find('?');
    return q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto part = query.substr(0, amp);
        if (!part.empty()) {
            const auto eq = part.find('=');
            out.emplace_back(url_unescape(part.substr(0, eq), Plus::Space),
                             eq == std::string_view::npos ? "" : url_unescape(part.substr(eq + 1), Plus::Space));
        }
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return out;
}

std::optional<std::string> query_value(std::string_view query, std::string_view key) {
    for (auto& [k, v] : parse_query(query))
        if (k == key) return std::move(v);
    return std::nullopt;
}

}  // namespace hs
