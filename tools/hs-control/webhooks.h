// hs-control's event outputs besides hs-admin events: one line in the log for each event, and
// the configured webhooks (notifications.webhooks). Each runs on a thread of its own with its
// own database connection and reads events from the audit trail by id, so events written by
// hs-admin on the file are delivered too, and a slow or absent receiver never touches the
// event loop. Delivery is at least once, in order, per webhook (docs/security.md).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/config/config.h"

namespace hs::control {

class EventNotifier {
public:
    // Checks every webhook (URL, readable non-empty secret, known event names) and throws
    // std::runtime_error naming the first bad one; starts nothing.
    explicit EventNotifier(const Config& cfg);
    ~EventNotifier();  // stops the threads (a delivery in flight ends within its timeout)
    EventNotifier(const EventNotifier&) = delete;
    EventNotifier& operator=(const EventNotifier&) = delete;

    // Starts the log thread and one delivery thread per webhook. New webhooks begin after the
    // newest audit row; known ones resume from their saved cursor.
    void start();
    // Prometheus text: deliveries by outcome, pending events and lag, per webhook.
    std::string metrics_text() const;

    struct Hook;

private:
    void run_log(std::stop_token stop);

    const Config& cfg_;
    std::vector<std::unique_ptr<Hook>> hooks_;
    std::atomic<std::uint64_t> logged_{0};
    std::vector<std::jthread> threads_;  // last: joined before the rest goes
};

}  // namespace hs::control
