// Whether each alias names something defined, and is allowed where it is used (§4.3, §4.6).
#include "common/policy/parse.h"
#include "common/policy/parse_util.h"

namespace hs::policy {

namespace {

enum class Place { src, dst, ssh_src, ssh_dst, owner, approver, attr_target };

const char* place_name(Place p) {
    switch (p) {
        case Place::src: return "src";
        case Place::dst: return "dst";
        case Place::ssh_src: return "ssh src";
        case Place::ssh_dst: return "ssh dst";
        case Place::owner: return "tagOwners";
        case Place::approver: return "autoApprovers";
        case Place::attr_target: return "nodeAttrs target";
    }
    return "";
}

bool autogroup_allowed(const std::string& name, Place p) {
    if (name == "member" || name == "tagged") return p != Place::owner && p != Place::approver;
    if (name == "self") return p == Place::dst || p == Place::ssh_dst;
    if (name == "internet") return p == Place::dst;
    if (name == "danger-all") return p == Place::src;
    return false;
}

bool kind_allowed(Alias::Kind k, Place p) {
    using K = Alias::Kind;
    switch (p) {
        case Place::owner:
        case Place::approver: return k == K::user || k == K::group || k == K::tag;
        case Place::ssh_src: return k == K::user || k == K::group || k == K::tag || k == K::autogroup;
        case Place::ssh_dst: return k == K::user || k == K::tag || k == K::autogroup;
        default: return true;
    }
}

// Messages follow Tailscale's wording where it has one, so errors read the same as there.
std::string autogroup_message(const Alias& a, Place place) {
    if (a.name == "self" && place == Place::src) return "\"autogroup:self\" not valid on the src side of a rule";
    if (a.name == "danger-all" && place == Place::dst) return "cannot use autogroup:danger-all as a dst";
    return "\"autogroup:" + a.name + "\" is not allowed in " + place_name(place);
}

void check_alias(const ParsedPolicy& p, const Alias& a, Place place, Reporter& r) {
    using K = Alias::Kind;
    std::string where = place_name(place);
    if (!kind_allowed(a.kind, place)) {
        if (place == Place::ssh_dst) return r.add(a.pos, "invalid dst \"" + a.name + "\"");
        return r.add(a.pos, "\"" + a.name + "\" is not allowed in " + where);
    }
    switch (a.kind) {
        case K::group:
            if (!p.groups.count(a.name) && !is_provider_group(a.name))
                r.add(a.pos, where + ": group not found: \"" + a.name + "\"");
            break;
        case K::tag:
            if (!p.tag_owners.count(a.name)) {
                r.add(a.pos, place == Place::src   ? "src=tag not found: \"" + a.name + "\""
                             : place == Place::dst ? "dst=\"" + a.name + "\": tag not found: \"" + a.name + "\""
                                                   : where + ": tag not found: \"" + a.name + "\"");
            }
            break;
        case K::host:
            // Tailscale reads an undefined name as an address that does not parse.
            if (!p.hosts.count(a.name)) r.add(a.pos, "\"" + a.name + "\": invalid address (no such host in hosts)");
            break;
        case K::autogroup:
            if (!autogroup_allowed(a.name, place)) r.add(a.pos, autogroup_message(a, place));
            break;
        case K::user:
            if (a.name.find('@') != a.name.rfind('@')) r.add(a.pos, "user \"" + a.name + "\" is not valid");
            break;
        default: break;
    }
}

bool has_autogroup(const std::vector<Alias>& list, const char* name) {
    for (const Alias& a : list) {
        if (a.kind == Alias::Kind::autogroup && a.name == name) return true;
    }
    return false;
}

void check_rule(const ParsedPolicy& p, const Rule& rule, Reporter& r) {
    for (const Alias& a : rule.src) check_alias(p, a, Place::src, r);
    for (const Alias& a : rule.dst) check_alias(p, a, Place::dst, r);
    if (has_autogroup(rule.dst, "self")) {
        for (const Alias& a : rule.src) {
            bool ok = a.kind == Alias::Kind::user || a.kind == Alias::Kind::group ||
                      (a.kind == Alias::Kind::autogroup && a.name == "member") ||
                      (rule.from_acl && a.kind == Alias::Kind::wildcard);
            if (!ok)
                r.add(a.pos, "autogroup:self can only be used with users, groups, or supported autogroups (not \"" +
                                 a.name + "\")");
        }
    }
    if (has_autogroup(rule.dst, "internet") && !rule.app.empty())
        r.add(rule.pos, "cannot use app grants with autogroup:internet");
    for (const std::string& t : rule.via) {
        if (t.rfind("tag:", 0) == 0 && !p.tag_owners.count(t)) r.add(rule.pos, "via: tag \"" + t + "\" not found");
    }
}

void check_ssh(const ParsedPolicy& p, const SshRuleSpec& s, Reporter& r) {
    for (const Alias& a : s.src) check_alias(p, a, Place::ssh_src, r);
    for (const Alias& a : s.dst) {
        check_alias(p, a, Place::ssh_dst, r);
        if (a.kind == Alias::Kind::user &&
            !(s.src.size() == 1 && s.src[0].kind == Alias::Kind::user && s.src[0].name == a.name)) {
            r.add(a.pos, "ssh dst \"" + a.name + "\": a user destination needs that same user as the only source");
        }
    }
    bool tag_src = false;
    for (const Alias& a : s.src)
        tag_src = tag_src || a.kind == Alias::Kind::tag || (a.kind == Alias::Kind::autogroup && a.name == "tagged");
    if (tag_src && s.check) r.add(s.pos, "ssh: tagged sources cannot use action \"check\"");
}

// Tailscale reports every problem inside `tests` as "test(s) failed"; keep that prefix.
void check_test_alias(const ParsedPolicy& p, const Alias& a, Place place, Reporter& r) {
    std::vector<Problem> found;
    Reporter inner{found};
    check_alias(p, a, place, inner);
    for (Problem& x : found) {
        x.message = "test(s) failed: " + x.message;
        r.problems.push_back(std::move(x));
    }
}

void check_test_dst(const ParsedPolicy& p, const std::string& hp, Pos pos, Reporter& r) {
    std::string host = hp.substr(0, hp.rfind(':'));
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    auto a = parse_alias(host, pos);
    if (!a) return;
    bool prefix = (a->kind == Alias::Kind::prefix && host.find('/') != std::string::npos) ||
                  (a->kind == Alias::Kind::host && p.hosts.count(a->name) &&
                   p.hosts.at(a->name).bits != (p.hosts.at(a->name).is_v6() ? 128 : 32));
    if (a->kind == Alias::Kind::autogroup && (a->name == "self" || a->name == "internet")) {
        r.add(pos, "test(s) failed: \"" + hp + "\": autogroup:" + a->name + " cannot be tested");
    } else if (prefix) {
        // Tailscale tests one address; a prefix, even a /32, fails the test.
        r.add(pos, "test(s) failed: \"" + hp + "\" is a prefix, not one address");
    } else {
        check_test_alias(p, *a, Place::dst, r);
    }
}

void check_ssh_test_dst(const ParsedPolicy& p, const Alias& a, Reporter& r) {
    bool disallowed = (a.kind == Alias::Kind::autogroup && (a.name == "internet" || a.name == "danger-all")) ||
                      (a.kind == Alias::Kind::prefix && a.name.find('/') != std::string::npos);
    std::string shown = (a.kind == Alias::Kind::autogroup ? "autogroup:" : "") + a.name;
    if (disallowed) return r.add(a.pos, "SSH tests dst contains disallowed element \"" + shown + "\"");
    if (a.kind == Alias::Kind::tag && !p.tag_owners.count(a.name))
        return r.add(a.pos, "SSH tests dst contains unknown tag \"" + a.name + "\"");
    check_test_alias(p, a, Place::dst, r);
}

void check_tests(const ParsedPolicy& p, Reporter& r) {
    for (const PolicyTestSpec& t : p.tests) {
        check_test_alias(p, t.src, Place::src, r);
        for (const auto* list : {&t.accept, &t.deny}) {
            for (const auto& [hp, pos] : *list) check_test_dst(p, hp, pos, r);
        }
    }
    for (const SshTestSpec& t : p.ssh_tests) {
        check_test_alias(p, t.src, Place::src, r);
        for (const Alias& a : t.dst) check_ssh_test_dst(p, a, r);
    }
}

}  // namespace

void check_refs(const ParsedPolicy& p, Reporter& r) {
    for (const auto& [tag, owners] : p.tag_owners) {
        for (const Alias& a : owners) check_alias(p, a, Place::owner, r);
    }
    for (const Rule& rule : p.rules) check_rule(p, rule, r);
    for (const SshRuleSpec& s : p.ssh) check_ssh(p, s, r);
    for (const auto& [cidr, approvers] : p.auto_routes) {
        for (const Alias& a : approvers) check_alias(p, a, Place::approver, r);
    }
    for (const Alias& a : p.auto_exit) check_alias(p, a, Place::approver, r);
    for (const NodeAttrSpec& n : p.node_attrs) {
        for (const Alias& a : n.target) check_alias(p, a, Place::attr_target, r);
    }
    check_tests(p, r);
}

}  // namespace hs::policy
