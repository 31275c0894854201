// Webhook delivery cursors: one row per webhook URL (schema version 9), written by hs-control's
// delivery threads after each settled event.
#include "common/store/store.h"

namespace hs::store {

std::optional<WebhookCursor> find_webhook_cursor(Db& db, const std::string& url) {
    auto st = db.prepare("SELECT last_id, done_in_next, attempts, failing_since FROM webhook_cursors WHERE url = ?");
    st.bind(1, url);
    if (!st.step()) return std::nullopt;
    WebhookCursor c;
    c.last_id = st.int64(0);
    c.done_in_next = static_cast<int>(st.int64(1));
    c.attempts = static_cast<int>(st.int64(2));
    if (auto s = st.opt_text(3)) c.failing_since = parse_time(*s);
    return c;
}

void save_webhook_cursor(Db& db, const std::string& url, const WebhookCursor& c, TimePoint now) {
    std::optional<std::string> since;
    if (c.failing_since) since = format_time(*c.failing_since);
    db.prepare(
          "INSERT INTO webhook_cursors(url, last_id, done_in_next, attempts, failing_since, updated_at) "
          "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET last_id = excluded.last_id, "
          "done_in_next = excluded.done_in_next, attempts = excluded.attempts, "
          "failing_since = excluded.failing_since, updated_at = excluded.updated_at")
        .bind(1, url)
        .bind(2, c.last_id)
        .bind(3, static_cast<std::int64_t>(c.done_in_next))
        .bind(4, static_cast<std::int64_t>(c.attempts))
        .bind(5, since)
        .bind(6, format_time(now))
        .run();
}

}  // namespace hs::store
