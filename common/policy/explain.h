// Inspection of a compiled policy for administrators (`hs-admin policy test|explain`, and the
// tag check of `nodes tag`): answers "why" questions that the per-node views of engine.h do
// not, always against the same compiled state the views come from.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/policy/engine.h"

namespace hs::policy {

// The tags the policy's tagOwners defines, sorted. Empty with `problems` filled when the text
// does not parse; needs no users or nodes, since a tag is defined by the text alone.
std::vector<std::string> defined_tags(std::string_view policy_text, std::vector<Problem>& problems);

// Where a rule or test sits in the file: section ("acls", "grants", "tests", "sshTests"),
// index within that section, and the line and column of its entry.
struct Location {
    std::string section;
    int index = -1;
    int line = 0;
    int column = 0;
};

struct TestOutcome {
    Location place;                 // section "tests", "sshTests" or "extra" (given on the command line)
    std::string src;                // the test's src as written
    std::vector<Problem> failures;  // empty = passed
    bool passed() const { return failures.empty(); }
};

// Runs the policy's tests and sshTests one by one, then each extra test (a JSON object of the
// `tests` form, {"src":..., "proto":..., "accept":[...], "deny":[...]}). A malformed extra test
// is reported as a failure of that test, with positions inside its own text.
std::vector<TestOutcome> run_tests(const Compiled& c, const std::vector<std::string>& extra_tests);

// One source address to one destination address, and what decided it.
struct PairVerdict {
    std::string src, dst;
    bool allowed = false;
    std::optional<Location> rule;       // the first rule allowing it, in policy order
    std::vector<Location> other_ports;  // when denied: rules that connect src and dst on other ports or protocols
};

struct Explanation {
    std::vector<std::string> src_nodes, dst_nodes;  // names of the nodes each side resolved to
    std::vector<PairVerdict> pairs;                 // every src x dst address of one family
    std::vector<Problem> problems;                  // src or dst names nothing
    bool truncated = false;                         // stopped after kMaxPairs pairs
    bool allowed() const;                           // every pair allowed (and there is at least one)
};

// May traffic from `src` reach `dst` on `port` (nullopt = any port) with `proto` (0 = TCP, as
// `tests` use it; else an IP protocol number)? src and dst may be a node's given name or
// hostname, an IP address, or any policy alias (user@, group:, tag:, host name, prefix, *).
Explanation explain(const Compiled& c, std::string_view src, std::string_view dst, std::optional<int> port, int proto);

}  // namespace hs::policy
