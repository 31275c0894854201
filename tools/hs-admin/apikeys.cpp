// hs-admin apikeys: bearer keys for hs-control's REST API (and hs-admin --remote).
#include <memory>

#include "tools/hs-admin/commands.h"

namespace hs::admin {
namespace {

Columns api_key_columns() {
    return {field("ID", "id"), field("Prefix", "prefix"), time_field("Expiration", "expiration"),
            time_field("Created", "created_at"), time_field("LastSeen", "last_seen")};
}

// expire and delete name a key by exactly one of -i and -p.
struct KeySelector {
    std::optional<std::int64_t> id;
    std::string prefix;

    void add(CLI::App* cmd) {
        cmd->add_option("-i,--id", id, "Key ID (from list)");
        cmd->add_option("-p,--prefix", prefix, "Key prefix as listed (hskey-api-<prefix>-***) or bare");
    }
    json params() const {
        json p{{"prefix", prefix}};
        if (id) p["id"] = *id;
        return p;
    }
};

}  // namespace

void add_apikeys(CLI::App& app, Context& ctx, Actions& actions) {
    auto* noun =
        add_noun(app, "apikeys", "Create, list, expire and delete API keys for the REST API", {"apikey", "api"});

    auto expiration = std::make_shared<std::string>("90d");
    auto* create =
        add_verb(*noun, "create", "Create a key and print it (the only time the secret is shown)", {"c", "new"});
    create->add_option("-e,--expiration", *expiration, "Lifetime, e.g. 30d; 0 = never expires")->capture_default_str();
    actions[create] = [&ctx, expiration] {
        const auto obj = ctx.call("apikeys.create", {{"expiration", *expiration}});
        print_text(ctx.format(), obj, obj.value("key", ""));
        return 0;
    };

    auto* list = add_verb(*noun, "list", "List keys (prefixes only)", {"ls", "show"});
    actions[list] = [&ctx] {
        print_list(ctx.format(), ctx.call("apikeys.list", json::object()), api_key_columns());
        return 0;
    };

    auto sel_expire = std::make_shared<KeySelector>();
    auto* expire = add_verb(*noun, "expire", "Expire a key now", {"revoke", "exp", "e"});
    sel_expire->add(expire);
    actions[expire] = [&ctx, sel_expire] {
        print_object(ctx.format(), ctx.call("apikeys.expire", sel_expire->params()), api_key_columns());
        return 0;
    };

    auto sel_delete = std::make_shared<KeySelector>();
    auto* del = add_verb(*noun, "delete", "Delete a key", {"remove", "del", "rm"});
    sel_delete->add(del);
    actions[del] = [&ctx, sel_delete] {
        print_result(ctx, ctx.call("apikeys.delete", sel_delete->params()));
        return 0;
    };
    add_unlock(*noun, ctx, actions, "apikeys.unlock", "an API key");
}

}  // namespace hs::admin
