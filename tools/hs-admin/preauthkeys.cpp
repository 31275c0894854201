// hs-admin preauthkeys: keys that let `tailscale up --authkey` join without a browser.
#include <memory>

#include "common/duration.h"
#include "common/store.h"
#include "tools/hs-admin/commands.h"

namespace hs::admin {
namespace {

// A time_point counts nanoseconds from 1970 and overflows in 2262; keep well inside it.
constexpr auto kMaxExpiration = std::chrono::hours(24 * 365 * 100);

Columns key_columns() {
    return {field("ID", "id"),
            field("Key", "key"),
            field("User", "user"),
            field("Tags", "tags"),
            field("Reusable", "reusable"),
            field("Ephemeral", "ephemeral"),
            field("Used", "used"),
            time_field("Expiration", "expiration"),
            time_field("Created", "created_at")};
}

json key_json(const PreAuthKey& k, const UserIndex& users) {
    return {{"id", k.id},
            {"key", store::masked_preauth_key(k)},
            {"user", user_ref(users, k.user_id)},
            {"reusable", k.reusable},
            {"ephemeral", k.ephemeral},
            {"used", k.used},
            {"expiration", json_time(k.expiration)},
            {"created_at", json_time(k.created_at)},
            {"tags", k.tags}};
}

std::optional<TimePoint> expiration_from(const std::string& text) {
    const auto d = parse_duration(text);
    if (d.count() == 0) return std::nullopt;
    if (d > kMaxExpiration)
        throw DurationError("invalid expiration \"" + text + "\": at most 100y (use 0 for a key that never expires)");
    return Clock::now() + d;
}

void add_create(CLI::App& noun, Context& ctx, Actions& actions) {
    struct Opts {
        std::string user;
        bool reusable = false;
        bool ephemeral = false;
        std::string expiration = "1h";
        std::vector<std::string> tags;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = add_verb(noun, "create", "Create a key and print it (the only time the secret is shown)",
                         {"c", "new"});
    cmd->add_option("-u,--user,-n,--namespace", o->user, "Owner: user name or ID");
    cmd->add_flag("--reusable", o->reusable, "The key can register more than one node");
    cmd->add_flag("--ephemeral", o->ephemeral, "Nodes it registers are removed when they go offline");
    cmd->add_option("-e,--expiration", o->expiration, "Lifetime, e.g. 30m, 24h, 90d; 0 = never expires")
        ->capture_default_str();
    cmd->add_option("--tags", o->tags, "Tags for the nodes it registers: tag:a,tag:b")->delimiter(',');
    actions[cmd] = [&ctx, o] {
        const auto expiration = expiration_from(o->expiration);
        Db& db = ctx.db();
        const auto created = store::create_preauth_key(db, user_id_of(db, o->user), o->reusable, o->ephemeral, expiration, o->tags);
        auto obj = key_json(created.key, user_index(db));
        obj["key"] = created.secret;
        // Bare key in table mode: KEY=$(hs-admin preauthkeys create -u alice) just works.
        print_text(ctx.format(), obj, created.secret);
        return 0;
    };
}

void add_list(CLI::App& noun, Context& ctx, Actions& actions) {
    auto user = std::make_shared<std::string>();
    auto* cmd = add_verb(noun, "list", "List keys (secrets masked)", {"ls", "show"});
    cmd->add_option("-u,--user,-n,--namespace", *user, "Only keys of this user (name or ID)");
    actions[cmd] = [&ctx, user] {
        Db& db = ctx.db();
        const auto only = user_id_of(db, *user);
        const auto users = user_index(db);
        auto items = json::array();
        for (const auto& k : store::list_preauth_keys(db))
            if (!only || k.user_id == only) items.push_back(key_json(k, users));
        print_list(ctx.format(), items, key_columns());
        return 0;
    };
}

void add_expire(CLI::App& noun, Context& ctx, Actions& actions) {
    auto id = std::make_shared<std::int64_t>(0);
    auto* cmd = add_verb(noun, "expire", "Expire a key now; nodes it registered stay", {"revoke", "exp", "e"});
    cmd->add_option("-i,--id", *id, "Key ID (from list)")->required();
    actions[cmd] = [&ctx, id] {
        Db& db = ctx.db();
        auto k = store::find_preauth_key(db, *id);
        if (!k) throw store::NotFound("pre-auth key " + std::to_string(*id) + " not found");
        const auto now = Clock::now();
        // An expired key keeps the moment it expired; moving it to now would rewrite history.
        if (!k->expired(now)) {
            store::expire_preauth_key(db, *id, now);
            k = store::find_preauth_key(db, *id);
            if (!k) throw store::NotFound("pre-auth key " + std::to_string(*id) + " not found");
        }
        print_object(ctx.format(), key_json(*k, user_index(db)), key_columns());
        return 0;
    };
}

}  // namespace

void add_preauthkeys(CLI::App& app, Context& ctx, Actions& actions) {
    auto* noun = add_noun(app, "preauthkeys", "Create, list and expire pre-auth keys", {"preauthkey", "authkey", "pre"});
    add_create(*noun, ctx, actions);
    add_list(*noun, ctx, actions);
    add_expire(*noun, ctx, actions);
}

}  // namespace hs::admin
