// acls, grants, ssh and nodeAttrs entries (§4.4-§4.6, §4.9).
#include "common/policy/parse.h"
#include "common/policy/parse_util.h"

namespace hs::policy {

std::vector<Alias> alias_list(const JValue& v, Reporter& r, std::string_view what);  // parse.cpp

namespace {

bool ports_allowed(int proto) { return proto == 0 || proto == 6 || proto == 17 || proto == 132; }

// "alias:ports" where the last colon separates the ports; "[v6]:80" and "[v6/48]:80" allowed.
bool split_dst(const std::string& s, std::string& alias, std::string& ports) {
    auto colon = s.rfind(':');
    if (colon == std::string::npos || colon + 1 >= s.size()) return false;
    alias = s.substr(0, colon);
    ports = s.substr(colon + 1);
    if (alias.size() > 2 && alias.front() == '[') {
        auto close = alias.find(']');
        if (close == std::string::npos) return false;
        alias = alias.substr(1, close - 1) + alias.substr(close + 1);
    }
    return true;
}

// Grant "ip" entries: "*", "22", "80,443", "tcp:22", "udp:1000-2000", "icmp", "icmp:*".
void parse_ip_specs(const JValue& v, Rule& rule, Reporter& r) {
    for (auto& [s, pos] : string_list(v, r, "grant ip")) {
        std::string t = trim(s);
        int proto = 0;
        std::string ports = t;
        auto colon = t.find(':');
        if (colon != std::string::npos) {
            auto p = parse_proto(t.substr(0, colon));
            if (!p) {
                r.add(pos, "grant ip \"" + s + "\": unknown protocol");
                continue;
            }
            proto = *p;
            ports = t.substr(colon + 1);
        }
        IpSpec spec{proto, {}};
        std::string why;
        if (!parse_ports(ports, spec.ports, &why)) {
            r.add(pos, "ip=\"" + s + "\": " + why);
            continue;
        }
        if (!ports_allowed(proto) && ports != "*")
            r.add(pos, "grant ip \"" + s + "\": ports are only allowed for tcp, udp and sctp");
        // Entries of one protocol share a rule: merge their ports.
        bool merged = false;
        for (IpSpec& existing : rule.ip) {
            if (existing.proto == proto) {
                existing.ports.insert(existing.ports.end(), spec.ports.begin(), spec.ports.end());
                merged = true;
            }
        }
        if (!merged) rule.ip.push_back(std::move(spec));
    }
}

// "" when the capability name is acceptable, else Tailscale's complaint.
std::string cap_name_problem(const std::string& name) {
    auto slash = name.find('/');
    if (slash == std::string::npos || slash == 0 || name.find("://") != std::string::npos)
        return "capability name must have the form {domain}/{path}";
    if (name.rfind("tailscale.com/", 0) == 0) {
        static const char* allowed[] = {"tailscale.com/cap/drive", "tailscale.com/cap/relay", "tailscale.com/cap/webui",
                                        "tailscale.com/cap/kubernetes", "tailscale.com/cap/tsidp"};
        for (const char* a : allowed) {
            if (name == a) return "";
        }
        return "capability name must not be in the tailscale.com domain";
    }
    return "";
}

void parse_app(const JValue& v, std::vector<std::pair<std::string, nlohmann::json>>& out, Reporter& r) {
    if (!v.is_object()) return r.add(v.pos, "app: expected an object of capability -> list");
    for (std::size_t k = 0; k < v.members.size(); ++k) {
        const auto& [name, vals] = v.members[k];
        if (auto why = cap_name_problem(name); !why.empty()) r.add(v.key_pos[k], "app \"" + name + "\": " + why);
        if (!vals.is_array() && !vals.is_null()) r.add(vals.pos, "app \"" + name + "\": expected a list");
        // The parser admits only JSON nlohmann reads back (UTF-8, finite numbers).
        out.emplace_back(name, vals.is_null() ? nlohmann::json::array() : nlohmann::json::parse(to_json_text(vals)));
    }
}

}  // namespace

void parse_acl(const JValue& v, ParsedPolicy& out, Reporter& r) {
    Rule base;
    base.from_acl = true;
    base.pos = v.pos;
    std::string action;
    int proto = 0;
    const JValue* dst = nullptr;
    each_member(v, {"action", "src", "dst", "proto"}, r, "acl", true, [&](int which, const JValue& val) {
        if (which == 0) {
            action = val.text;
            if (val.text != "accept") r.add(val.pos, "action=\"" + val.text + "\" is not supported");
        } else if (which == 1) {
            base.src = alias_list(val, r, "acl src");
        } else if (which == 2) {
            dst = &val;
        } else if (!val.text.empty()) {
            auto p = parse_proto(trim(val.text));
            if (!p) r.add(val.pos, "acl proto \"" + val.text + "\" is not a protocol");
            proto = p.value_or(0);
        }
    });
    if (action.empty()) r.add(v.pos, "action must be specified");
    if (!dst) return;
    for (auto& [s, pos] : string_list(*dst, r, "acl dst")) {
        std::string alias_text, ports_text;
        Rule rule = base;
        IpSpec spec{proto, {}};
        std::string why = "expected alias:ports";
        if (!split_dst(trim(s), alias_text, ports_text) || !parse_ports(ports_text, spec.ports, &why)) {
            r.add(pos, "dst=\"" + s + "\": " + why);
            continue;
        }
        if (!ports_allowed(proto) && ports_text != "*")
            r.add(pos, "acl dst \"" + s + "\": ports are only allowed for tcp, udp and sctp");
        auto a = parse_alias(alias_text, pos);
        if (!a) {
            r.add(pos, "acl dst \"" + s + "\": empty alias");
            continue;
        }
        rule.dst.push_back(*a);
        rule.ip.push_back(std::move(spec));
        out.rules.push_back(std::move(rule));
    }
}

void parse_grant(const JValue& v, ParsedPolicy& out, Reporter& r) {
    Rule rule;
    rule.pos = v.pos;
    bool has_ip = false, has_app = false;
    each_member(v, {"src", "dst", "ip", "app", "via", "srcPosture"}, r, "grant", true,
                [&](int which, const JValue& val) {
                    switch (which) {
                        case 0: rule.src = alias_list(val, r, "grant src"); break;
                        case 1: rule.dst = alias_list(val, r, "grant dst"); break;
                        case 2:
                            parse_ip_specs(val, rule, r);
                            has_ip = !val.items.empty();
                            break;
                        case 3:
                            parse_app(val, rule.app, r);
                            has_app = !val.members.empty();
                            break;
                        case 4:
                            for (auto& [s, pos] : string_list(val, r, "grant via")) {
                                if (s.rfind("tag:", 0) != 0) r.add(pos, "via can only be a tag (not \"" + s + "\")");
                                rule.via.push_back(s);
                            }
                            break;
                        case 5: r.add(val.pos, "grant srcPosture: device posture is not supported"); break;
                    }
                });
    if (!has_ip && !has_app) r.add(v.pos, "grant: ip and app can not both be empty");
    for (const Alias& a : rule.dst) {
        if (a.kind == Alias::Kind::prefix && a.cidr.bits == 0) {
            r.add(a.pos, "dst \"" + a.name + "\": to allow all IP addresses, use \"*\" or \"autogroup:internet\"");
        }
    }
    out.rules.push_back(std::move(rule));
}

void parse_node_attr(const JValue& v, ParsedPolicy& out, Reporter& r) {
    NodeAttrSpec spec;
    spec.pos = v.pos;
    each_member(v, {"target", "attr", "app", "ipPool"}, r, "nodeAttrs", true, [&](int which, const JValue& val) {
        if (which == 0) spec.target = alias_list(val, r, "nodeAttrs target");
        if (which == 1) {
            for (auto& [s, pos] : string_list(val, r, "nodeAttrs attr")) {
                if (trim(s).empty()) r.add(pos, "nodeAttrs attr: empty capability");
                if (s == "funnel") r.add(pos, "nodeAttrs attr \"funnel\": Funnel is not supported");
                spec.attr.push_back(trim(s));
            }
        }
        if (which == 2) parse_app(val, spec.app, r);
        if (which == 3) r.add(val.pos, "nodeAttrs ipPool: IP pools are not supported");
    });
    out.node_attrs.push_back(std::move(spec));
}

}  // namespace hs::policy
