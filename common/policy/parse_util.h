// Small helpers for walking a positioned JSON tree while collecting problems.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/policy/json.h"
#include "common/policy/types.h"

namespace hs::policy {

struct Reporter {
    std::vector<Problem>& problems;
    void add(Pos p, std::string msg) { problems.push_back({p.line, p.column, std::move(msg)}); }
};

std::string lower(std::string_view s);
std::string trim(std::string_view s);

// Visits an object's members, matching keys case-insensitively against `known`; reports any
// other key (keys starting with '#' are metadata and skipped when `allow_hash`). Calls
// fn(index into known, value).
template <class Fn>
void each_member(const JValue& obj, std::initializer_list<std::string_view> known, Reporter& r, std::string_view where,
                 bool allow_hash, Fn fn) {
    for (std::size_t k = 0; k < obj.members.size(); ++k) {
        const auto& [key, val] = obj.members[k];
        std::string lk = lower(key);
        int idx = 0, found = -1;
        for (auto name : known) {
            if (lower(name) == lk) found = idx;
            ++idx;
        }
        if (found >= 0) {
            fn(found, val);
        } else if (!(allow_hash && !key.empty() && key[0] == '#')) {
            r.add(obj.key_pos[k], "unknown field \"" + key + "\" in " + std::string(where));
        }
    }
}

// A list of strings; reports a non-array or non-string element. Null counts as empty.
std::vector<std::pair<std::string, Pos>> string_list(const JValue& v, Reporter& r, std::string_view what);

}  // namespace hs::policy
