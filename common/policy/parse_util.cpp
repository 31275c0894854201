#include "common/policy/parse_util.h"

namespace hs::policy {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
        s.remove_suffix(1);
    return std::string(s);
}

std::vector<std::pair<std::string, Pos>> string_list(const JValue& v, Reporter& r, std::string_view what) {
    std::vector<std::pair<std::string, Pos>> out;
    if (v.is_null()) return out;
    if (!v.is_array()) {
        r.add(v.pos, std::string(what) + ": expected a list of strings");
        return out;
    }
    for (const JValue& item : v.items) {
        if (!item.is_string()) {
            r.add(item.pos, std::string(what) + ": expected a string");
            continue;
        }
        out.emplace_back(item.text, item.pos);
    }
    return out;
}

std::string Problem::str() const {
    if (line == 0) return message;
    return "line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + message;
}

std::string format_problems(const std::vector<Problem>& problems) {
    std::string out;
    for (const Problem& p : problems) out += p.str() + "\n";
    return out;
}

}  // namespace hs::policy
