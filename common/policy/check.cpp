#include "common/policy/check.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "common/base/hujson.h"
#include "common/base/netaddr.h"

namespace hs {
namespace {

using json = nlohmann::json;

const char* const kSections[] = {"groups", "hosts", "tagOwners", "acls", "grants", "ssh", "autoApprovers",
                                 "nodeAttrs", "tests", "sshTests", "randomizeClientPort"};
const char* const kAutogroups[] = {"internet", "member", "tagged", "self", "nonroot", "danger-all"};
const char* const kProtos[] = {"icmp", "ipv6-icmp", "igmp", "ipv4", "ip-in-ip", "tcp", "egp", "igp",
                               "udp",  "gre",       "esp",  "ah",   "sctp",     "fc"};

bool iequals(const std::string& a, const std::string& b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

bool digits(const std::string& s) {
    return !s.empty() && s.size() <= 5 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

class Checker {
public:
    explicit Checker(json p) : p_(std::move(p)) {}

    json run() {
        if (!p_.is_object()) {
            err("policy", "must be a JSON object");
            finish();
        }
        normalize_sections();
        check_groups();
        check_hosts();
        check_tag_owners();
        check_acls();
        for (const char* s : {"grants", "ssh", "nodeAttrs", "tests", "sshTests"}) expect_type(s, json::value_t::array, "a list");
        expect_type("autoApprovers", json::value_t::object, "an object");
        if (p_.contains("randomizeClientPort") && !p_["randomizeClientPort"].is_boolean())
            err("randomizeClientPort", "must be true or false");
        check_ssh();
        finish();
        return p_;
    }

private:
    void err(const std::string& where, const std::string& what) { errors_.push_back(where + ": " + what); }

    void finish() {
        if (errors_.empty()) return;
        std::string msg = "invalid policy:";
        for (const auto& e : errors_) msg += "\n  " + e;
        throw PolicyError(msg);
    }

    // Section names are matched without regard to case, as headscale does; unknown ones are
    // errors so a typo never silently drops rules.
    void normalize_sections() {
        json out = json::object();
        for (auto& item : p_.items()) {
            // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
            const std::string& k = item.key();
            const auto& v = item.value();
            const auto it = std::find_if(std::begin(kSections), std::end(kSections), [&](const char* s) { return iequals(k, s); });
            if (it == std::end(kSections)) {
                err(k, "unknown field");
                continue;
            }
            out[*it] = v;
        }
        p_ = std::move(out);
    }

    void expect_type(const char* key, json::value_t type, const char* name) {
        if (p_.contains(key) && p_[key].type() != type) err(key, std::string("must be ") + name);
    }

    const json* section(const char* key, json::value_t type, const char* name) {
        if (!p_.contains(key)) return nullptr;
        if (p_[key].type() != type) {
            err(key, std::string("must be ") + name);
            return nullptr;
        }
        return &p_[key];
    }

    // A list of strings; reports and skips anything else.
    std::vector<std::string> strings(const json& v, const std::string& where) {
        std::vector<std::string> out;
        if (!v.is_array()) {
            err(where, "must be a list of strings");
            return out;
        }
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (v[i].is_string()) out.push_back(v[i].get<std::string>());
            else err(where + "[" + std::to_string(i) + "]", "must be a string");
        }
        return out;
    }

    void check_groups() {
        const auto* g = section("groups", json::value_t::object, "an object");
        if (!g) return;
        for (const auto& [name, members] : g->items()) {
            const auto where = "groups." + name;
            if (name.rfind("group:", 0) != 0 || name.size() == 6) err(where, "group names look like group:<name>");
            groups_.insert(name);
            for (const auto& m : strings(members, where)) {
                if (m.rfind("group:", 0) == 0) err(where, "\"" + m + "\": a group cannot contain a group");
                else if (m.find('@') == std::string::npos) err(where, "\"" + m + "\": members are users, written user@ or user@domain");
            }
        }
    }

    void check_hosts() {
        const auto* h = section("hosts", json::value_t::object, "an object");
        if (!h) return;
        for (const auto& [name, v] : h->items()) {
            const auto where = "hosts." + name;
            if (name.empty() || name.find_first_of(":@") != std::string::npos) err(where, "host names cannot contain ':' or '@'");
            hosts_.insert(name);
            if (!v.is_string() || (!parse_ip(v.get<std::string>()) && !parse_prefix(v.get<std::string>())))
                err(where, "must be an IP address or a CIDR prefix such as 10.0.0.0/8");
        }
    }

    void check_tag_owners() {
        const auto* t = section("tagOwners", json::value_t::object, "an object");
        if (!t) return;
        for (const auto& [tag, owners] : t->items()) {
            if (tag.size() < 5 || tag.rfind("tag:", 0) != 0 || !std::isalpha(static_cast<unsigned char>(tag[4])))
                err("tagOwners." + tag, "tag names look like tag:<name>, starting with a letter");
            tags_.insert(tag);
        }
        for (const auto& [tag, owners] : t->items())
            for (const auto& o : strings(owners, "tagOwners." + tag)) {
                const bool ok = o.find('@') != std::string::npos || (o.rfind("group:", 0) == 0 && groups_.count(o)) ||
                                (o.rfind("tag:", 0) == 0 && tags_.count(o));
                if (!ok) err("tagOwners." + tag, "\"" + o + "\": owners are users (user@), defined groups or defined tags");
            }
    }

    // An alias in src or dst; `dst` tells which autogroups are allowed.
    void check_alias(const std::string& a, bool dst, const std::string& where) {
        if (a == "*" || parse_ip(a) || parse_prefix(a)) return;
        if (a.find('@') != std::string::npos) return;
        if (a.rfind("group:", 0) == 0) {
            if (!groups_.count(a)) err(where, "\"" + a + "\" is not defined in groups");
        } else if (a.rfind("tag:", 0) == 0) {
            if (!tags_.count(a)) err(where, "\"" + a + "\" is not defined in tagOwners");
        } else if (a.rfind("autogroup:", 0) == 0) {
            const auto name = a.substr(10);
            if (std::find(std::begin(kAutogroups), std::end(kAutogroups), name) == std::end(kAutogroups) || name == "nonroot")
                err(where, "unknown autogroup \"" + a + "\"");
            else if (!dst && (name == "self" || name == "internet")) err(where, "\"" + a + "\" can only be a destination");
            else if (dst && name == "danger-all") err(where, "\"" + a + "\" can only be a source");
        } else if (!hosts_.count(a)) {
            err(where, "\"" + a + "\" is not a user (user@), group, tag, autogroup, IP, CIDR or host from hosts");
        }
    }

    void check_ports(const std::string& ports, const std::string& where) {
        if (ports == "*") return;
        std::size_t pos = 0;
        while (pos <= ports.size()) {
            const auto comma = ports.find(',', pos);
            const auto part = ports.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
            const auto dash = part.find('-');
            const auto lo = part.substr(0, dash), hi = dash == std::string::npos ? lo : part.substr(dash + 1);
            if (!digits(lo) || !digits(hi) || std::stoi(lo) < 1 || std::stoi(hi) > 65535 || std::stoi(lo) > std::stoi(hi)) {
                err(where, "invalid ports \"" + part + "\": expected *, N, N-M or a comma list, N from 1 to 65535");
                return;
            }
            if (comma == std::string::npos) break;
            pos = comma + 1;
        }
    }

    void check_acls() {
        const auto* acls = section("acls", json::value_t::array, "a list");
        if (!acls) return;
        for (std::size_t i = 0; i < acls->size(); ++i) {
            const auto where = "acls[" + std::to_string(i) + "]";
            const auto& r = (*acls)[i];
            if (!r.is_object()) {
                err(where, "must be an object");
                continue;
            }
            for (const auto& [k, v] : r.items())
                if (k != "action" && k != "src" && k != "dst" && k != "proto" && k.rfind('#', 0) != 0)
                    err(where + "." + k, "unknown field");
            if (r.value("action", json()) != "accept") err(where + ".action", "must be \"accept\"");
            if (!r.contains("src")) err(where, "missing src");
            if (!r.contains("dst")) err(where, "missing dst");
            const auto src = r.contains("src") ? strings(r["src"], where + ".src") : std::vector<std::string>{};
            for (std::size_t j = 0; j < src.size(); ++j) check_alias(src[j], false, where + ".src[" + std::to_string(j) + "]");
            const auto dst = r.contains("dst") ? strings(r["dst"], where + ".dst") : std::vector<std::string>{};
            for (std::size_t j = 0; j < dst.size(); ++j) {
                const auto w = where + ".dst[" + std::to_string(j) + "]";
                const auto colon = dst[j].rfind(':');
                if (colon == std::string::npos || colon + 1 == dst[j].size()) {
                    err(w, "\"" + dst[j] + "\": expected alias:ports, e.g. tag:web:443 or *:*");
                    continue;
                }
                auto alias = dst[j].substr(0, colon);
                if (alias.size() > 2 && alias.front() == '[' && alias.back() == ']') alias = alias.substr(1, alias.size() - 2);
                check_alias(alias, true, w);
                check_ports(dst[j].substr(colon + 1), w);
            }
            if (r.contains("proto")) check_proto(r["proto"], where + ".proto");
        }
    }

    void check_proto(const json& v, const std::string& where) {
        if (v.is_string()) {
            const auto s = v.get<std::string>();
            if (std::find(std::begin(kProtos), std::end(kProtos), s) != std::end(kProtos)) return;
            if (digits(s) && s[0] != '0' && std::stoi(s) <= 255) return;
        }
        err(where, "expected a protocol name (tcp, udp, icmp, ...) or a number from 1 to 255");
    }

    void check_ssh() {
        const auto* ssh = p_.contains("ssh") && p_["ssh"].is_array() ? &p_["ssh"] : nullptr;
        if (!ssh) return;
        for (std::size_t i = 0; i < ssh->size(); ++i) {
            const auto where = "ssh[" + std::to_string(i) + "]";
            const auto& r = (*ssh)[i];
            if (!r.is_object()) {
                err(where, "must be an object");
                continue;
            }
            const auto action = r.value("action", json());
            if (action != "accept" && action != "check") err(where + ".action", "must be \"accept\" or \"check\"");
            for (const char* k : {"src", "dst", "users"})
                if (!r.contains(k) || strings(r[k], where + "." + k).empty()) err(where + "." + k, "must be a non-empty list");
        }
    }

    json p_;
    std::vector<std::string> errors_;
    std::set<std::string> groups_, hosts_, tags_;
};

}  // namespace

nlohmann::json parse_policy(const std::string& text) {
    json p;
    try {
        p = parse_hujson(text);
    } catch (const HujsonError& e) {
        throw PolicyError(std::string("invalid policy: ") + e.what());
    }
    return Checker(std::move(p)).run();
}

std::set<std::string> policy_tags(const nlohmann::json& policy) {
    std::set<std::string> out;
    if (policy.contains("tagOwners") && policy["tagOwners"].is_object())
        for (const auto& [tag, owners] : policy["tagOwners"].items()) out.insert(tag);
    return out;
}

}  // namespace hs
