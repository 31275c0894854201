// Reading what a provider sent without nlohmann's type errors: a member of the wrong type is
// treated as a missing one, so the check that needs it refuses with its own message.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace hs::auth {

// The member `name` of `j` when it is a string; "" when it is missing or of another type.
inline std::string json_text(const nlohmann::json& j, const std::string& name) {
    const auto it = j.find(name);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace hs::auth
