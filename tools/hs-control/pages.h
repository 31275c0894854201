// The plain HTTP pages hs-control serves next to the control protocol. Pure functions: the
// server decides when to call them.
#pragma once

#include <string>

#include "common/store/model.h"

namespace hs::control {

// GET /key?v=N: the server's Noise public key.
std::string key_json(const std::string& noise_public_text);
// GET /register/<id>: tells the user the exact command an admin runs to let the device in.
// Nothing about the server itself (no config path): anyone can open this page.
std::string register_page(const std::string& auth_id, const std::optional<AuthRequest>& req);
// The line an administrator runs to approve registration `auth_id`.
std::string register_command(const std::string& auth_id);
// GET /apple and /windows: how to point those clients at this server.
std::string apple_page(const std::string& server_url);
std::string windows_page(const std::string& server_url);
// A whole page: `title` (escaped here) as title and heading, `body` as given (HTML). No
// external resources: the style is inline.
std::string page(const std::string& title, const std::string& body);
// Escapes text for HTML.
std::string html_escape(const std::string& s);

}  // namespace hs::control
