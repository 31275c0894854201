// Alias, port and protocol syntax (§4.3, §4.4): the leaf strings of a policy.
#include <string>

#include "common/policy/parse.h"
#include "common/policy/parse_util.h"

namespace hs::policy {

std::optional<Alias> parse_alias(std::string_view raw, Pos pos) {
    std::string t = trim(raw);
    Alias a;
    a.pos = pos;
    a.name = t;
    if (t.empty()) return std::nullopt;
    // Anything that reads as an address or prefix is one (host bits are tolerated, as in
    // Tailscale, and cleared).
    if (auto c = parse_cidr(t, true)) {
        a.kind = Alias::Kind::prefix;
        a.cidr = *c;
        return a;
    }
    if (t == "*") {
        a.kind = Alias::Kind::wildcard;
    } else if (t.find('@') != std::string::npos) {
        a.kind = Alias::Kind::user;
    } else if (t.rfind("group:", 0) == 0) {
        a.kind = Alias::Kind::group;
    } else if (t.rfind("tag:", 0) == 0) {
        a.kind = Alias::Kind::tag;
    } else if (t.rfind("autogroup:", 0) == 0) {
        a.kind = Alias::Kind::autogroup;
        a.name = t.substr(10);
    } else {
        a.kind = Alias::Kind::host;
    }
    return a;
}

namespace {

bool parse_u16(std::string_view s, std::uint16_t& out) {
    if (s.empty() || s.size() > 5) return false;
    unsigned v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v > 65535) return false;
    out = static_cast<std::uint16_t>(v);
    return true;
}

}  // namespace

bool parse_ports(std::string_view text, std::vector<PortRange>& out, std::string* why) {
    if (text == "*") {
        out.push_back({0, 65535});
        return true;
    }
    auto fail = [&](std::string_view part, const char* what) {
        if (why) *why = "port range \"" + std::string(part) + "\": " + what;
        return false;
    };
    while (true) {
        auto comma = text.find(',');
        std::string_view part = text.substr(0, comma);
        auto dash = part.find('-');
        PortRange r;
        if (!parse_u16(part.substr(0, dash), r.first)) return fail(part, "invalid first integer");
        r.last = r.first;
        if (dash != std::string_view::npos && !parse_u16(part.substr(dash + 1), r.last))
            return fail(part, "invalid last integer");
        if (r.first == 0) return fail(part, "first port must be >0, or use '*' for wildcard");
        if (r.last < r.first) return fail(part, "last port must be >= first port");
        out.push_back(r);
        if (comma == std::string_view::npos) break;
        text.remove_prefix(comma + 1);
    }
    return true;
}

std::optional<int> parse_proto(std::string_view text) {
    static const std::pair<const char*, int> names[] = {
        {"icmp", 1}, {"igmp", 2}, {"ipv4", 4}, {"ip-in-ip", 4}, {"tcp", 6},        {"egp", 8},    {"igp", 9},
        {"udp", 17}, {"gre", 47}, {"esp", 50}, {"ah", 51},      {"ipv6-icmp", 58}, {"sctp", 132}, {"fc", 133}};
    std::string l = lower(text);
    for (const auto& [name, num] : names) {
        if (l == name) return num;
    }
    if (text.empty() || text.size() > 3 || text[0] == '0') return std::nullopt;
    int v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    if (v < 1 || v > 255) return std::nullopt;
    return v;
}

}  // namespace hs::policy
