// Resolves aliases against the tailnet: which nodes and which addresses a name stands for.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/policy/compiled.h"

namespace hs::policy {

class Resolver {
public:
    Resolver(CompiledImpl& c, std::vector<Problem>& problems);

    // Index of the user an alias like "alice@" or "alice@example.com" names; -1 if none.
    int user_index(const Alias& a) const;
    // Nodes the alias stands for (prefix and host: the nodes whose address lies inside).
    std::vector<int> nodes_of(const Alias& a) const;
    // Addresses as a source; "*" adds every approved subnet route.
    void add_src(const Alias& a, IpSet& out, bool& all) const;
    void add_dst(const Alias& a, DstSet& out) const;
    IpSet ips_of(const std::vector<int>& nodes) const;
    std::vector<int> domain_nodes(const std::string& domain) const;

private:
    CompiledImpl& c_;
    std::map<std::string, std::vector<int>> tag_nodes_;
    std::map<std::string, std::vector<int>> user_keys_;  // email / name / name@ / provider id
    std::vector<int> members_, tagged_, all_;
    IpSet all_routes_;
};

}  // namespace hs::policy
