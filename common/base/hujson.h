// HuJSON ("human JSON", the format of Tailscale policy files): JSON plus // and /* */ comments
// and trailing commas. Standardised to plain JSON with every byte's position kept, so parse
// errors point at the right line and column of the original text.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace hs {

struct HujsonError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// Comments and trailing commas become spaces; everything else is copied. Throws HujsonError
// for an unterminated comment or string.
std::string hujson_standardize(std::string_view text);
// Standardises and parses. Throws HujsonError "line L, column C: <what is wrong>".
nlohmann::json parse_hujson(std::string_view text);

}  // namespace hs
