// hs-admin events: the alerts the audit trail raises (admin/events.cpp), listed or followed.
// --follow reads the SQLite file (any number of readers, none of them slowing hs-control) and
// prints each event as it is committed; `--since ID` resumes after the last one seen.
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "common/admin/events.h"
#include "common/admin/ops.h"
#include "tools/hs-admin/commands.h"

namespace hs::admin {
namespace {

// How often --follow looks at the file; a look is one PRAGMA when nothing changed.
constexpr auto kPollEvery = std::chrono::milliseconds(250);

Columns event_columns() {
    return {field("ID", "id"),       time_field("At", "at"),    field("Event", "event"),
            field("Actor", "actor"), field("Object", "object"), field("Source", "source")};
}

void print_line(Format f, const json& e) {
    const auto line = f == Format::json_lines
                          ? e.dump(-1, ' ', false, json::error_handler_t::replace)
                          : e["id"].dump() + "\t" + e["at"].get<std::string>() + "\t" + e["event"].get<std::string>() +
                                "\t" + e["actor"].get<std::string>() + "\t" + e["object"].get<std::string>() + "\t" +
                                e["source"].get<std::string>();
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

int follow(Context& ctx, const std::string& since) {
    const auto f = ctx.format();
    if (f != Format::json_lines && f != Format::table)
        throw store::StoreError("events --follow prints -o json-line or table (one event a line)");
    if (!ctx.remote.empty())
        throw store::StoreError("events --follow reads the database file; run it where the file is");
    Db& db = ctx.db();
    Env env{db, ctx.config(), Clock::now()};
    const auto [from, last] = events_since(since, env.now);
    // One reader for the whole run: its derivation state carries from poll to poll.
    EventReader reader(from, last);
    std::int64_t seen_version = -1;
    for (;;) {
        const auto v = db.data_version();
        if (v != seen_version) {
            seen_version = v;
            for (const auto& e : reader.next(db)) print_line(f, e);
        }
        std::this_thread::sleep_for(kPollEvery);
    }
}

}  // namespace

void add_events(CLI::App& app, Context& ctx, Actions& actions) {
    auto since = std::make_shared<std::string>("24h");
    auto follow_flag = std::make_shared<bool>(false);
    auto* cmd = add_verb(app, "events",
                         "Alerts: sign-ins from new networks or after failures, lockouts, new API keys, policy "
                         "changes, nodes registered or deleted");
    cmd->add_option("--since", *since, "A duration back (24h) or the last event ID seen, to resume after it")
        ->capture_default_str();
    cmd->add_flag("-f,--follow", *follow_flag, "Keep printing events as they happen (-o json-line or table)");
    actions[cmd] = [&ctx, since, follow_flag] {
        if (*follow_flag) return follow(ctx, *since);
        print_list(ctx.format(), ctx.call("events.list", {{"since", *since}}), event_columns());
        return 0;
    };
}

}  // namespace hs::admin
