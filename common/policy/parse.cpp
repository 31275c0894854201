// Reads each top-level section of a policy into ParsedPolicy, reporting every structural
// problem with its position. Name resolution (does group:x exist?) is in check_refs.cpp.
#include "common/policy/parse.h"
#include "common/policy/engine.h"

#include "common/policy/parse_util.h"

namespace hs::policy {

void check_refs(const ParsedPolicy& p, Reporter& r);                   // check_refs.cpp
void parse_grant(const JValue& v, ParsedPolicy& out, Reporter& r);     // parse_rules.cpp
void parse_acl(const JValue& v, ParsedPolicy& out, Reporter& r);       // parse_rules.cpp
void parse_ssh_rule(const JValue& v, ParsedPolicy& out, Reporter& r);  // parse_rules.cpp
void parse_tests(const JValue& v, ParsedPolicy& out, Reporter& r);     // parse_tests.cpp
void parse_ssh_tests(const JValue& v, ParsedPolicy& out, Reporter& r);
void parse_node_attr(const JValue& v, ParsedPolicy& out, Reporter& r);

std::vector<Alias> alias_list(const JValue& v, Reporter& r, std::string_view what) {
    std::vector<Alias> out;
    for (auto& [s, pos] : string_list(v, r, what)) {
        if (auto a = parse_alias(s, pos)) {
            out.push_back(*a);
        } else {
            r.add(pos, std::string(what) + ": empty alias");
        }
    }
    return out;
}

namespace {

void parse_groups(const JValue& v, ParsedPolicy& out, Reporter& r) {
    if (!v.is_object()) return r.add(v.pos, "groups: expected an object");
    for (std::size_t k = 0; k < v.members.size(); ++k) {
        const auto& [name, members] = v.members[k];
        if (name.rfind("group:", 0) != 0) r.add(v.key_pos[k], "group \"" + name + "\" must start with \"group:\"");
        if (is_provider_group(name))
            r.add(v.key_pos[k], "group \"" + name +
                                    "\": names starting with \"group:oidc/\" are the identity provider's groups and "
                                    "cannot be defined here");
        auto list = alias_list(members, r, name);
        for (const Alias& a : list) {
            if (a.kind == Alias::Kind::group)
                r.add(a.pos, "groups[\"" + name + "\"]: \"" + a.name + "\": group members cannot be recursive");
            else if (a.kind != Alias::Kind::user)
                r.add(a.pos, "group \"" + name + "\": \"" + a.name + "\" is not a user");
        }
        out.groups[name] = std::move(list);
    }
}

void parse_hosts(const JValue& v, ParsedPolicy& out, Reporter& r) {
    if (!v.is_object()) return r.add(v.pos, "hosts: expected an object");
    for (std::size_t k = 0; k < v.members.size(); ++k) {
        const auto& [name, val] = v.members[k];
        if (name.empty() || name.find_first_of(":@") != std::string::npos || parse_cidr(name, true)) {
            r.add(v.key_pos[k], "host name \"" + name + "\" is not valid");
        }
        if (!val.is_string()) {
            r.add(val.pos, "host \"" + name + "\": expected an IP or CIDR string");
            continue;
        }
        auto c = parse_cidr(trim(val.text), false);
        if (!c) {
            r.add(val.pos, "host \"" + name + "\": \"" + val.text + "\" is not an IP or CIDR");
            continue;
        }
        out.hosts[name] = *c;
    }
}

void parse_tag_owners(const JValue& v, ParsedPolicy& out, Reporter& r) {
    if (!v.is_object()) return r.add(v.pos, "tagOwners: expected an object");
    for (std::size_t k = 0; k < v.members.size(); ++k) {
        const auto& [name, owners] = v.members[k];
        bool ok = name.size() > 4 && name.rfind("tag:", 0) == 0 &&
                  ((name[4] >= 'a' && name[4] <= 'z') || (name[4] >= 'A' && name[4] <= 'Z'));
        if (!ok) r.add(v.key_pos[k], "tagOwners[\"" + name + "\"]: tag names must start with a letter, after 'tag:'");
        auto list = alias_list(owners, r, name);
        for (const Alias& a : list) {
            if (a.kind != Alias::Kind::user && a.kind != Alias::Kind::group && a.kind != Alias::Kind::tag) {
                r.add(a.pos, "tagOwners \"" + name + "\": \"" + a.name + "\" is not a user, group or tag");
            }
        }
        out.tag_owners[name] = std::move(list);
    }
}

void parse_auto_approvers(const JValue& v, ParsedPolicy& out, Reporter& r) {
    if (!v.is_object()) return r.add(v.pos, "autoApprovers: expected an object");
    each_member(v, {"routes", "exitNode"}, r, "autoApprovers", false, [&](int which, const JValue& val) {
        if (which == 1) {
            out.auto_exit = alias_list(val, r, "autoApprovers.exitNode");
            return;
        }
        if (!val.is_object()) return r.add(val.pos, "autoApprovers.routes: expected an object");
        for (std::size_t k = 0; k < val.members.size(); ++k) {
            auto c = parse_cidr(val.members[k].first, false);
            if (!c) {
                r.add(val.key_pos[k], "autoApprovers.routes: \"" + val.members[k].first + "\" is not a CIDR");
                continue;
            }
            out.auto_routes.emplace_back(*c, alias_list(val.members[k].second, r, "autoApprovers.routes"));
        }
    });
}

template <class Fn>
void each_entry(const JValue& v, Reporter& r, std::string_view what, Fn fn) {
    if (v.is_null()) return;
    if (!v.is_array()) return r.add(v.pos, std::string(what) + ": expected a list");
    for (const JValue& item : v.items) {
        if (!item.is_object()) {
            r.add(item.pos, std::string(what) + ": expected an object");
            continue;
        }
        fn(item);
    }
}

// No acls and no grants means everyone may reach everyone: the same as one rule from "*" to
// "*:*", which is also what Tailscale sends (sources are the tailnet ranges and routes).
void add_allow_all(ParsedPolicy& out) {
    Rule all;
    all.from_acl = true;
    all.src.push_back(*parse_alias("*", {}));
    all.dst.push_back(*parse_alias("*", {}));
    all.ip.push_back({0, {{0, 65535}}});
    out.rules.push_back(std::move(all));
}

bool only_space_and_comments(std::string_view text) {
    JValue dummy;
    JsonSyntaxError err;
    // An empty document fails with "unexpected end of input" at the very end.
    return !parse_hujson_tree(text, dummy, err) && err.message == "unexpected end of input";
}

}  // namespace

void parse_policy_text(std::string_view text, ParsedPolicy& out, std::vector<Problem>& problems) {
    Reporter r{problems};
    if (text.size() > kMaxPolicyBytes) {
        problems.push_back({0, 0,
                            "the policy is " + std::to_string(text.size()) + " bytes; at most " +
                                std::to_string(kMaxPolicyBytes) + " (1 MiB) are accepted"});
        return;
    }
    if (only_space_and_comments(text)) {
        out.allow_all = true;
        add_allow_all(out);
        return;
    }
    JValue root;
    JsonSyntaxError err;
    if (!parse_hujson_tree(text, root, err)) return r.add(err.pos, err.message);
    if (!root.is_object()) return r.add(root.pos, "policy: expected an object");
    bool has_rules = false;
    each_member(root,
                {"groups", "hosts", "tagOwners", "acls", "grants", "ssh", "autoApprovers", "nodeAttrs", "tests",
                 "sshTests", "randomizeClientPort"},
                r, "policy", false, [&](int which, const JValue& v) {
                    switch (which) {
                        case 0: parse_groups(v, out, r); break;
                        case 1: parse_hosts(v, out, r); break;
                        case 2: parse_tag_owners(v, out, r); break;
                        case 3:
                            has_rules = true;
                            each_entry(v, r, "acls", [&](const JValue& e) { parse_acl(e, out, r); });
                            break;
                        case 4:
                            has_rules = true;
                            each_entry(v, r, "grants", [&](const JValue& e) { parse_grant(e, out, r); });
                            break;
                        case 5:
                            out.has_ssh = true;
                            each_entry(v, r, "ssh", [&](const JValue& e) { parse_ssh_rule(e, out, r); });
                            break;
                        case 6: parse_auto_approvers(v, out, r); break;
                        case 7:
                            each_entry(v, r, "nodeAttrs", [&](const JValue& e) { parse_node_attr(e, out, r); });
                            break;
                        case 8: each_entry(v, r, "tests", [&](const JValue& e) { parse_tests(e, out, r); }); break;
                        case 9:
                            each_entry(v, r, "sshTests", [&](const JValue& e) { parse_ssh_tests(e, out, r); });
                            break;
                        case 10:
                            if (v.kind != JValue::Kind::boolean)
                                r.add(v.pos, "randomizeClientPort: expected true or false");
                            out.randomize_client_port = v.b;
                            break;
                    }
                });
    out.allow_all = !has_rules;
    check_refs(out, r);
    if (out.allow_all) add_allow_all(out);
}

}  // namespace hs::policy
