// ssh rules, tests and sshTests entries (§4.6, tests of §4.2).
#include <cstdlib>

#include "common/policy/parse.h"
#include "common/policy/parse_util.h"

namespace hs::policy {

std::vector<Alias> alias_list(const JValue& v, Reporter& r, std::string_view what);  // parse.cpp

namespace {

// Go duration text ("12h", "1h30m", "90s"); nullopt when malformed.
std::optional<std::int64_t> go_duration_seconds(std::string_view s) {
    bool negative = !s.empty() && s.front() == '-';
    if (negative || (!s.empty() && s.front() == '+')) s.remove_prefix(1);
    if (s.empty()) return std::nullopt;
    double total = 0;
    while (!s.empty()) {
        std::size_t k = 0, dots = 0, digits = 0;
        for (; k < s.size() && ((s[k] >= '0' && s[k] <= '9') || s[k] == '.'); ++k) (s[k] == '.' ? dots : digits)++;
        if (digits == 0 || dots > 1 || k > 30) return std::nullopt;
        double num = std::strtod(std::string(s.substr(0, k)).c_str(), nullptr);
        s.remove_prefix(k);
        std::size_t u = 0;
        while (u < s.size() && !(s[u] >= '0' && s[u] <= '9') && s[u] != '.') ++u;
        std::string_view unit = s.substr(0, u);
        s.remove_prefix(u);
        double mult = unit == "h" ? 3600 : unit == "m" ? 60 : unit == "s" ? 1 : unit == "ms" ? 1e-3 : -1;
        if (mult < 0) return std::nullopt;
        total += num * mult;
        if (total > 1e12) return std::nullopt;  // far beyond any limit; Go would overflow
    }
    return static_cast<std::int64_t>(negative ? -total : total);
}

// Go's rendering of a whole-second duration: "200h0m0s", "1m30s", "45s".
std::string go_duration_text(std::int64_t secs) {
    std::string sign = secs < 0 ? "-" : "";
    std::int64_t a = secs < 0 ? -secs : secs;
    std::int64_t h = a / 3600, m = a % 3600 / 60, s = a % 60;
    if (h) return sign + std::to_string(h) + "h" + std::to_string(m) + "m" + std::to_string(s) + "s";
    if (m) return sign + std::to_string(m) + "m" + std::to_string(s) + "s";
    return sign + std::to_string(s) + "s";
}

void parse_check_period(const JValue& val, SshRuleSpec& spec, Reporter& r) {
    if (val.is_null()) return;
    if (!val.is_string()) return r.add(val.pos, "ssh checkPeriod: expected a duration string");
    if (val.text == "always") {
        spec.check_period_s = -1;
        return;
    }
    auto d = go_duration_seconds(val.text);
    if (!d) return r.add(val.pos, "checkPeriod: time: invalid duration \"" + val.text + "\"");
    if (*d < 0) return r.add(val.pos, "checkPeriod " + go_duration_text(*d) + " must be a positive duration");
    if (*d > 168 * 3600) return r.add(val.pos, "checkPeriod " + go_duration_text(*d) + " is above the max (168h)");
    spec.check_period_s = *d;
}

void check_ssh_users(const SshRuleSpec& spec, const JValue& v, Reporter& r) {
    if (spec.users.empty()) r.add(v.pos, "users must be specified");
    for (const std::string& u : spec.users) {
        if (u.empty() || u == "*") r.add(v.pos, "user \"" + u + "\" is not valid");
        // Tailscale takes other autogroups and malformed localpart: entries as literal login
        // names; only a wildcard domain is refused.
        if (u.rfind("localpart:*@", 0) == 0 && u.find_first_of("*@", 12) != std::string::npos) {
            r.add(v.pos, "ssh users: \"" + u + "\": the domain of localpart:*@domain cannot be a pattern");
        }
    }
}

}  // namespace

void parse_ssh_rule(const JValue& v, ParsedPolicy& out, Reporter& r) {
    SshRuleSpec spec;
    spec.pos = v.pos;
    const JValue* period = nullptr;
    bool has_action = false;
    each_member(v, {"action", "src", "dst", "users", "checkPeriod", "acceptEnv"}, r, "ssh", true,
                [&](int which, const JValue& val) {
                    switch (which) {
                        case 0:
                            has_action = !val.text.empty();
                            if (trim(val.text) == "check") spec.check = true;
                            else if (!val.text.empty() && trim(val.text) != "accept")
                                r.add(val.pos, "\"" + val.text + "\" is not a valid action");
                            break;
                        case 1: spec.src = alias_list(val, r, "ssh src"); break;
                        case 2: spec.dst = alias_list(val, r, "ssh dst"); break;
                        case 3:
                            for (auto& [s, pos] : string_list(val, r, "ssh users")) spec.users.push_back(trim(s));
                            break;
                        case 4: period = &val; break;
                        case 5:
                            for (auto& [s, pos] : string_list(val, r, "ssh acceptEnv")) {
                                if (s.empty()) r.add(pos, "acceptEnv values cannot be empty");
                                spec.accept_env.push_back(s);
                            }
                            break;
                    }
                });
    if (!has_action) r.add(v.pos, "action must be specified");
    if (period) {
        if (!spec.check && !period->is_null())
            r.add(period->pos, "ssh checkPeriod is only valid with action \"check\"");
        parse_check_period(*period, spec, r);
    }
    check_ssh_users(spec, v, r);
    out.ssh.push_back(std::move(spec));
}

void parse_tests(const JValue& v, ParsedPolicy& out, Reporter& r) {
    PolicyTestSpec t;
    t.pos = v.pos;
    bool has_src = false;
    each_member(v, {"src", "proto", "accept", "deny"}, r, "test", false, [&](int which, const JValue& val) {
        if (which == 0 && val.is_string()) {
            has_src = true;
            t.src_text = trim(val.text);
            if (auto a = parse_alias(val.text, val.pos)) t.src = *a;
        }
        if (which == 1 && val.is_string() && !val.text.empty()) {
            auto p = parse_proto(val.text);
            if (!p) r.add(val.pos, "test(s) failed: proto \"" + val.text + "\" is not a protocol");
            t.proto = p.value_or(0);
        }
        if (which == 2) t.accept = string_list(val, r, "test accept");
        if (which == 3) t.deny = string_list(val, r, "test deny");
    });
    if (!has_src) r.add(v.pos, "test(s) failed: missing src");
    if (t.accept.empty() && t.deny.empty()) r.add(v.pos, "test(s) failed: needs accept or deny");
    for (const auto* list : {&t.accept, &t.deny}) {
        for (const auto& [hp, pos] : *list) {
            // One destination and one port per entry: no lists, ranges or wildcards.
            auto colon = hp.rfind(':');
            std::string port = colon == std::string::npos ? "" : hp.substr(colon + 1);
            if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos)
                r.add(pos, "test(s) failed: \"" + hp + "\": expected host:port with one port");
        }
    }
    if (t.proto == 1) r.add(v.pos, "test(s) failed: proto icmp has no ports to test");
    out.tests.push_back(std::move(t));
}

void parse_ssh_tests(const JValue& v, ParsedPolicy& out, Reporter& r) {
    SshTestSpec t;
    t.pos = v.pos;
    bool has_src = false;
    auto names = [&](const JValue& val, std::vector<std::string>& to) {
        for (auto& [s, pos] : string_list(val, r, "sshTests users")) to.push_back(trim(s));
    };
    each_member(v, {"src", "dst", "accept", "deny", "check"}, r, "sshTest", false, [&](int which, const JValue& val) {
        if (which == 0 && val.is_string()) {
            has_src = true;
            if (auto a = parse_alias(val.text, val.pos)) t.src = *a;
        }
        if (which == 1) t.dst = alias_list(val, r, "sshTests dst");
        if (which == 2) names(val, t.accept);
        if (which == 3) names(val, t.deny);
        if (which == 4) names(val, t.check);
    });
    if (!has_src) r.add(v.pos, "test(s) failed: sshTest missing src");
    if (t.accept.empty() && t.deny.empty() && t.check.empty())
        r.add(v.pos, "test(s) failed: sshTest needs accept, deny or check");
    out.ssh_tests.push_back(std::move(t));
}

}  // namespace hs::policy
