// The change log: how hs-control learns of writes made by hs-admin and other processes.
#include "common/store/store.h"

namespace hs::store {

void prune_change_log(Db& db, TimePoint before) {
    db.prepare("DELETE FROM change_log WHERE at < ?").bind(1, format_time(before)).run();
}

std::int64_t change_log_head(Db& db) {
    auto st = db.prepare("SELECT coalesce(max(seq), 0) FROM change_log");
    st.step();
    return st.int64(0);
}

ChangesSince changes_since(Db& db, std::int64_t seq) {
    ChangesSince out;
    out.last_seq = seq;
    auto first = db.prepare("SELECT coalesce(min(seq), 0) FROM change_log");
    first.step();
    if (first.int64(0) > seq + 1) {
        out.pruned = true;
        return out;
    }
    auto st = db.prepare("SELECT seq, tbl, row_id FROM change_log WHERE seq > ? ORDER BY seq");
    st.bind(1, seq);
    while (st.step()) {
        out.last_seq = st.int64(0);
        const auto tbl = st.text(1);
        if (tbl == "nodes") out.node_ids.push_back(st.int64(2));
        else if (tbl == "users") out.users = true;
        else if (tbl == "policies") out.policies = true;
    }
    return out;
}

}  // namespace hs::store
