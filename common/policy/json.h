// A HuJSON document tree that remembers where each value starts, so every policy error can
// name the line and column of the text the user wrote (nlohmann::json forgets positions).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hs::policy {

struct Pos {
    int line = 0;  // 1-based; 0 = unknown (values built in code, not parsed)
    int column = 0;
};

struct JMember;

struct JValue {
    enum class Kind { null, boolean, number, string, array, object };
    Kind kind = Kind::null;
    Pos pos;
    bool b = false;
    std::string text;              // string value, or the number's literal text
    std::vector<JValue> items;     // array elements
    std::vector<JMember> members;  // object members, in file order (a vector of an incomplete
                                   // type is fine; std::pair of one is not, for clang)
    std::vector<Pos> key_pos;      // position of each member's key

    bool is_string() const { return kind == Kind::string; }
    bool is_array() const { return kind == Kind::array; }
    bool is_object() const { return kind == Kind::object; }
    bool is_null() const { return kind == Kind::null; }
};

struct JMember {
    std::string first;  // the key
    JValue second;
};

struct JsonSyntaxError {
    Pos pos;
    std::string message;
};

// Parses JSON with // and /* */ comments and trailing commas. On a syntax error returns false
// and fills `err`.
bool parse_hujson_tree(std::string_view text, JValue& out, JsonSyntaxError& err);

// Compact JSON text of a value (used to pass capability values through unchanged).
std::string to_json_text(const JValue& v);

}  // namespace hs::policy
