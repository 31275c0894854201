// Reading headscale's capture corpus (Tailscale SaaS outputs for known policies) into the
// engine's records. Locates the Go module at test time; nothing is copied into this repo.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/policy/types.h"

namespace hs::policy::captures {

// The testdata directory of headscale v0.29.2 in the Go module cache, or "" (with `why`).
std::string find_testdata(std::string& why);

struct Topology {
    std::vector<User> users;
    std::vector<Node> nodes;
    std::map<std::string, std::uint64_t> id_by_name;
    std::map<std::uint64_t, std::string> name_by_id;
};

nlohmann::json read_capture(const std::string& path);
Topology build_topology(const nlohmann::json& capture);
std::string policy_text(const nlohmann::json& capture);

}  // namespace hs::policy::captures
