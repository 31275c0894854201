// Shape checks for the JSON bodies of /machine/register and /machine/map, done before any field
// is read: a field of the wrong type (a "Version" sent as a string) is answered with a 400 that
// names it, instead of an exception from deep inside a handler.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace hs::control {

// Removes top-level null members (Go's encoder writes nil pointers and slices as null, which
// means "absent"), then checks the type of every field hs reads. Returns the first problem as a
// sentence for the client, or nullopt when the request can be handled.
std::optional<std::string> normalize_request(nlohmann::json& req);

}  // namespace hs::control
