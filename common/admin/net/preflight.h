// What would stop hs-control at start, found without changing anything on the machine: no
// database created or migrated, no key file written, no lock taken, no port bound. One check
// for `hs-control --check` and `hs-admin configtest`, so the two can never disagree.
#pragma once

#include <string>
#include <vector>

#include "common/config/config.h"

namespace hs::admin {

struct Preflight {
    // What start-up would find or do, one clause each ("database x is at schema version 6",
    // "the Noise key k will be created").
    std::vector<std::string> notes;
    // Empty when the policy in force is accepted; else where it is and every problem with its
    // line and column.
    std::string policy_problems;
};

// A webhook as hs-control delivers to it: its configuration and the secret read from secret_path.
struct WebhookTarget {
    Webhook cfg;
    std::string secret;
};
// Checks every notifications.webhooks entry (an http(s) URL, a readable non-empty secret, known
// event names) and throws std::runtime_error naming the first bad one.
std::vector<WebhookTarget> load_webhooks(const Config& cfg);

// Checks, in start-up's order, the database (read-only), the Noise and DERP key files, the TLS
// files, the ACME cache, the webhooks, the DERP map (derp.paths read, derp.urls fetched as at start) and the
// policy in force. Throws (std::runtime_error and its subclasses) with the first problem that
// would stop a start; a policy that would be refused is returned in `policy_problems`.
Preflight preflight(const Config& cfg);

}  // namespace hs::admin
