// The audit trail's rows. schema.cpp's triggers refuse UPDATE and DELETE on the table.
#include "common/store/store.h"

namespace hs::store {

namespace {

std::vector<AuditEntry> read_entries(Stmt& st) {
    std::vector<AuditEntry> out;
    while (st.step()) {
        AuditEntry e;
        e.id = st.int64(0);
        e.at = parse_time(st.text(1)).value_or(TimePoint{});
        e.actor = st.text(2);
        e.action = st.text(3);
        e.object = st.text(4);
        e.before = st.opt_text(5);
        e.after = st.opt_text(6);
        e.source = st.text(7);
        out.push_back(std::move(e));
    }
    return out;
}

}  // namespace

std::int64_t append_audit(Db& db, const AuditEntry& e) {
    db.prepare("INSERT INTO audit_log(at, actor, action, object, before, after, source) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(1, format_time(e.at))
        .bind(2, e.actor)
        .bind(3, e.action)
        .bind(4, e.object)
        .bind(5, e.before)
        .bind(6, e.after)
        .bind(7, e.source)
        .run();
    return db.last_insert_id();
}

std::vector<AuditEntry> list_audit(Db& db, TimePoint since, std::int64_t after_id, std::int64_t limit) {
    // `at` is fixed-width RFC 3339 to the second, so text order is time order; id orders rows
    // within a second.
    auto st = db.prepare(
        "SELECT id, at, actor, action, object, before, after, source FROM audit_log "
        "WHERE at >= ? AND id > ? ORDER BY id LIMIT ?");
    st.bind(1, format_time(since)).bind(2, after_id).bind(3, limit);
    return read_entries(st);
}

std::int64_t last_audit_id(Db& db) {
    auto st = db.prepare("SELECT coalesce(max(id), 0) FROM audit_log");
    st.step();
    return st.int64(0);
}

std::vector<AuditEntry> audit_history(Db& db, const std::string& prefix, std::int64_t through, std::int64_t limit) {
    // substr rather than LIKE: the prefix is matched literally, '_' and '%' included.
    // (The subquery is named: PostgreSQL before 16 requires it.)
    auto st = db.prepare(
        "SELECT id, at, actor, action, object, before, after, source FROM ("
        "SELECT * FROM audit_log WHERE id <= ? AND substr(action, 1, ?) = ? ORDER BY id DESC LIMIT ?) AS recent "
        "ORDER BY id");
    st.bind(1, through).bind(2, static_cast<std::int64_t>(prefix.size())).bind(3, prefix).bind(4, limit);
    return read_entries(st);
}

}  // namespace hs::store
