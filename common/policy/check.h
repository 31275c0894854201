// Structural validation of an ACL policy (HuJSON, headscale's policy v2 language): known
// sections, group/host/tag definitions, and the alias forms in acls. This is what `policy set`
// and `policy check` refuse; how the policy is enforced is a separate matter.
#pragma once

#include <set>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace hs {

struct PolicyError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// Parses and validates. Throws PolicyError listing every problem found, one per line, each
// naming where it is ("acls[0].dst[1]: ...").
nlohmann::json parse_policy(const std::string& text);
// The tags defined in tagOwners.
std::set<std::string> policy_tags(const nlohmann::json& policy);

}  // namespace hs
