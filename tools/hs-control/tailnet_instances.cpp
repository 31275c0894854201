// Several hs-control instances on one PostgreSQL database (docs/scale-out.md): what one instance
// does for all, and the presence of instances that are gone. SQLite's one instance holds every
// duty and has no other instance to look after.
#include <spdlog/spdlog.h>

#include "common/store/store.h"
#include "tools/hs-control/tailnet.h"

namespace hs::control {

void Tailnet::set_instance_slot(int slot) {
    slot_ = slot;
    my_bit_ = std::uint64_t{1} << slot;
    session_generation_ = db_.session_generation();
}

void Tailnet::read_other_writers(TimePoint now) {
    try {
        sync_from_db(now);
    } catch (const DbError& e) {
        spdlog::debug("reading the change log for a request: {}", e.what());
    }
}

void Tailnet::instance_duties(TimePoint now) {
    on_owner_thread();
    if (!db_.postgres()) return;
    if (const auto g = db_.session_generation(); g != session_generation_) {
        // The old session's end freed our slot for a moment: a reaper may have cleared our bits.
        session_generation_ = g;
        for (const auto& [id, l] : nodes_)
            if (!l.sinks.empty()) unsaved_presence_.insert(id);
    }
    const bool routes = store::hold_duty(db_, store::Duty::RouteElection);
    const bool gc = store::hold_duty(db_, store::Duty::EphemeralCollection);
    if (gc != gc_duty_)
        spdlog::info("instance {}: {} the collection of ephemeral nodes", slot_, gc ? "takes" : "leaves");
    gc_duty_ = gc;
    if (routes != route_duty_) {
        spdlog::info("instance {}: {} the route election", slot_, routes ? "takes" : "leaves");
        route_duty_ = routes;
        reroute(now);  // the new elector starts from the primaries recorded so far
        publish(now);
    }
    // Bits of instances that are gone (killed: no exit cleared them), as far as memory knows;
    // the rows hold the truth, which the reaper clears under the write lock.
    std::uint64_t seen = 0;
    for (const auto& [id, l] : nodes_) seen |= l.remote_slots;
    if (!seen || !(seen & ~store::live_instance_slots(db_))) return;
    if (const int n = store::reap_dead_instances(db_, now))
        spdlog::info("instance {}: {} nodes were online through instances that are gone; offline now", slot_, n);
}

}  // namespace hs::control
