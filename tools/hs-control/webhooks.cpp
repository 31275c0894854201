// The event log line and webhook deliveries (webhooks.h). Signing and the retry schedule are
// in common/admin/webhook.cpp; the events themselves in common/admin/events.cpp.
#include "tools/hs-control/webhooks.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "common/admin/events.h"
#include "common/admin/net/preflight.h"
#include "common/admin/webhook.h"
#include "common/base/prometheus.h"
#include "common/config/database.h"
#include "common/net/http_fetch.h"
#include "common/store/db.h"
#include "common/store/store.h"

namespace hs::control {

using admin::json;

namespace {

// How often a thread looks for new audit rows: one PRAGMA data_version when nothing changed
// (the same pace as hs-admin events --follow).
constexpr auto kPollEvery = std::chrono::milliseconds(250);
// Rows read at a time; a long backlog is worked through in batches of this many.
constexpr std::int64_t kBatchRows = 1000;

std::unique_ptr<Db> open_db(const Config& cfg) {
    auto db = std::make_unique<Db>(database_name(cfg), database_options(cfg));
    // Off the loop, a thread can wait out hs-admin's or the loop's transactions.
    db->set_busy_timeout(std::chrono::seconds(5));
    return db;
}

// Sleeps `d` or until a stop is asked; false when stopped.
bool sleep_for(std::stop_token stop, std::chrono::milliseconds d) {
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock lock(mu);
    cv.wait_for(lock, stop, d, [] { return false; });
    return !stop.stop_requested();
}

std::int64_t unix_seconds(const json& event) {
    const auto t = parse_time(event.value("at", "")).value_or(TimePoint{});
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string one_line(const json& j) { return j.dump(-1, ' ', true, json::error_handler_t::replace); }

// The advisory lock whose holder delivers to `url` (several instances on one PostgreSQL
// database): FNV-1a 64 of the URL, so two URLs practically never share one.
std::int64_t delivery_lock(const std::string& url) {
    std::uint64_t h = 14695981039346656037ULL;  // FNV-1a 64 offset basis and prime
    for (const char ch : "hs-webhook " + url) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ULL;
    return static_cast<std::int64_t>(h);
}

}  // namespace

struct EventNotifier::Hook {
    Webhook cfg;
    std::string secret;
    std::atomic<std::uint64_t> delivered{0}, failed{0}, dropped{0};
    std::atomic<std::int64_t> pending{0}, oldest_pending_at{0};  // unix seconds, 0: none

    // Delivers while this instance holds the URL's lock (always on SQLite); after a database
    // failure it starts over from the stored cursor a second later.
    void run(const Config& c, std::stop_token stop);

private:
    // Until stopped or the lock is lost (another instance delivers then).
    void deliver(Db& db, std::int64_t lock, std::stop_token stop);
    struct Pending {
        json event;
        std::int64_t id = 0;
        int seq = 0;  // the event's place among its row's events
    };
    bool attempt(const json& event, const std::string& delivery);
    void settle(Db& db, std::deque<Pending>& q, std::int64_t read_through);
    void read_more(Db& db, admin::EventReader& reader, std::deque<Pending>& q, int skip_in_first);

    store::WebhookCursor cursor_;
};

bool EventNotifier::Hook::attempt(const json& event, const std::string& delivery) {
    const auto body = one_line(event);
    const auto ts = std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    const std::vector<std::pair<std::string, std::string>> headers = {
        {"X-Hs-Timestamp", ts},
        {"X-Hs-Signature", admin::webhook_signature(secret, ts, body)},
        {"X-Hs-Event", event.value("event", "")},
        {"X-Hs-Delivery", delivery},
    };
    try {
        const auto r = http_post_with_headers(cfg.url, body, headers, cfg.timeout);
        if (r.status >= 200 && r.status < 300) return true;
        spdlog::warn("webhook {}: delivery {} answered {}", cfg.url, delivery, r.status);
    } catch (const std::exception& e) {
        spdlog::warn("webhook {}: delivery {} failed: {}", cfg.url, delivery, e.what());
    }
    return false;
}

void EventNotifier::Hook::read_more(Db& db, admin::EventReader& reader, std::deque<Pending>& q, int skip_in_first) {
    std::int64_t row = -1;
    int seq = 0;
    for (auto& e : reader.next(db, kBatchRows)) {
        const auto id = e["id"].get<std::int64_t>();
        seq = id == row ? seq + 1 : 0;
        row = id;
        // After a restart mid-row, the row's events already delivered are not sent again.
        if (id == cursor_.last_id + 1 && seq < skip_in_first) continue;
        if (!admin::webhook_wants(cfg.events, e["event"].get<std::string>())) continue;
        q.push_back({std::move(e), id, seq});
    }
}

void EventNotifier::Hook::settle(Db& db, std::deque<Pending>& q, std::int64_t read_through) {
    const auto done = q.front();
    q.pop_front();
    cursor_.attempts = 0;
    cursor_.failing_since.reset();
    if (!q.empty() && q.front().id == done.id) {
        cursor_.last_id = done.id - 1;
        cursor_.done_in_next = done.seq + 1;
    } else {
        cursor_.last_id = q.empty() ? read_through : q.front().id - 1;
        cursor_.done_in_next = 0;
    }
    try {
        store::save_webhook_cursor(db, cfg.url, cursor_, Clock::now());
    } catch (const std::exception& e) {
        // The event stays delivered; a restart before the next save sends it again.
        spdlog::error("webhook {}: cannot save the delivery cursor: {}", cfg.url, e.what());
    }
}

void EventNotifier::Hook::run(const Config& c, std::stop_token stop) {
    std::unique_ptr<Db> db;
    const auto lock = delivery_lock(cfg.url);
    bool said = false;
    while (!stop.stop_requested()) {
        try {
            if (!db) db = open_db(c);
            if (db->hold_duty_lock(lock)) {
                deliver(*db, lock, stop);
                continue;
            }
            if (!std::exchange(said, true))
                spdlog::info("webhook {}: another hs-control instance delivers it; this one takes over if it stops",
                             cfg.url);
            if (!sleep_for(stop, kPollEvery)) break;
        } catch (const DbError& e) {
            spdlog::error("webhook {}: delivery paused: {}", cfg.url, e.what());
            if (!sleep_for(stop, std::chrono::seconds(1))) break;
        } catch (const std::exception& e) {
            spdlog::error("webhook {}: delivery stopped: {}", cfg.url, e.what());
            return;
        }
    }
}

void EventNotifier::Hook::deliver(Db& db, std::int64_t lock, std::stop_token stop) {
    if (auto saved = store::find_webhook_cursor(db, cfg.url)) {
        cursor_ = *saved;
    } else {
        cursor_.last_id = store::last_audit_id(db);
        store::save_webhook_cursor(db, cfg.url, cursor_, Clock::now());
    }
    spdlog::info("webhook {}: delivering events after audit row {}", cfg.url, cursor_.last_id);
    admin::EventReader reader(TimePoint{}, cursor_.last_id);
    std::deque<Pending> q;
    read_more(db, reader, q, cursor_.done_in_next);
    std::int64_t seen_version = db.data_version();
    bool more = true;  // the last read may have stopped at kBatchRows
    while (!stop.stop_requested() && db.hold_duty_lock(lock)) {
        pending = static_cast<std::int64_t>(q.size());
        oldest_pending_at = q.empty() ? 0 : unix_seconds(q.front().event);
        if (q.empty()) {
            const auto before = reader.last_id();
            const auto v = db.data_version();
            if (v != seen_version || more) read_more(db, reader, q, 0);
            seen_version = v;
            more = reader.last_id() != before;
            if (q.empty() && !more && !sleep_for(stop, kPollEvery)) break;
            continue;
        }
        const auto& next = q.front();
        const auto delivery = std::to_string(next.id) + "." + std::to_string(next.seq);
        if (attempt(next.event, delivery)) {
            ++delivered;
            settle(db, q, reader.last_id());
            continue;
        }
        ++failed;
        const auto now = Clock::now();
        if (!cursor_.failing_since) cursor_.failing_since = now;
        ++cursor_.attempts;
        if (now - *cursor_.failing_since >= admin::kGiveUpAfter) {
            ++dropped;
            spdlog::error("webhook {}: gave up on delivery {} ({}) after {} tries since {}", cfg.url, delivery,
                          next.event["event"].get<std::string>(), cursor_.attempts,
                          format_time(*cursor_.failing_since));
            settle(db, q, reader.last_id());
            continue;
        }
        try {
            // The failing streak survives a restart, so the give-up clock does too.
            store::save_webhook_cursor(db, cfg.url, cursor_, now);
        } catch (const std::exception&) {}
        if (!sleep_for(stop, admin::webhook_retry_delay(cursor_.attempts))) break;
    }
}

EventNotifier::EventNotifier(const Config& cfg) : cfg_(cfg) {
    for (auto& target : admin::load_webhooks(cfg)) {
        auto h = std::make_unique<Hook>();
        h->cfg = std::move(target.cfg);
        h->secret = std::move(target.secret);
        hooks_.push_back(std::move(h));
    }
}

EventNotifier::~EventNotifier() {
    for (auto& t : threads_) t.request_stop();
}

void EventNotifier::start() {
    if (cfg_.database_path != ":memory:") threads_.emplace_back([this](std::stop_token s) { run_log(s); });
    for (auto& h : hooks_) threads_.emplace_back([this, hook = h.get()](std::stop_token s) { hook->run(cfg_, s); });
}

void EventNotifier::run_log(std::stop_token stop) {
    try {
        auto db = open_db(cfg_);
        admin::EventReader reader(TimePoint{}, store::last_audit_id(*db));
        reader.next(*db, 0);  // primes the derivation; rows before the start were logged by then
        std::int64_t seen_version = -1;
        bool paused = false;
        while (sleep_for(stop, paused ? std::chrono::seconds(1) : kPollEvery)) {
            try {
                const auto v = db->data_version();
                if (v == seen_version) continue;
                seen_version = v;
                // One line per event, JSON with every non-ASCII and control character escaped,
                // so a name a client chose cannot start a line of its own or pose as another field.
                for (const auto& e : reader.next(*db)) {
                    ++logged_;
                    spdlog::info("event {}", one_line(e));
                }
                paused = false;
            } catch (const DbError& e) {
                // The connection comes back by itself (PostgreSQL) and the reader resumes where it was.
                if (!std::exchange(paused, true)) spdlog::error("event log: paused: {}", e.what());
            }
        }
    } catch (const std::exception& e) {
        spdlog::error("event log: stopped: {}", e.what());
    }
}

std::string EventNotifier::metrics_text() const {
    prometheus::Writer w;
    w.counter("hs_events_logged_total", "Events written to the log.", logged_.load());
    w.family("hs_webhook_deliveries_total", "counter",
             "Webhook delivery attempts by outcome (failed: retried later; dropped: given up after 24 h).");
    for (const auto& h : hooks_) {
        w.sample("hs_webhook_deliveries_total", h->delivered.load(), {{"url", h->cfg.url}, {"outcome", "delivered"}});
        w.sample("hs_webhook_deliveries_total", h->failed.load(), {{"url", h->cfg.url}, {"outcome", "failed"}});
        w.sample("hs_webhook_deliveries_total", h->dropped.load(), {{"url", h->cfg.url}, {"outcome", "dropped"}});
    }
    w.family("hs_webhook_pending_events", "gauge", "Events read and not yet delivered, per webhook.");
    for (const auto& h : hooks_) w.sample("hs_webhook_pending_events", h->pending.load(), {{"url", h->cfg.url}});
    w.family("hs_webhook_lag_seconds", "gauge", "Age of the oldest undelivered event, per webhook (0: none waiting).");
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    for (const auto& h : hooks_) {
        const auto at = h->oldest_pending_at.load();
        w.sample("hs_webhook_lag_seconds", at == 0 ? 0 : std::max<std::int64_t>(0, now - at), {{"url", h->cfg.url}});
    }
    return w.take();
}

}  // namespace hs::control
