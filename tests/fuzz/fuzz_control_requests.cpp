// The bodies of /machine/register and /machine/map, as hs-control handles them: any bytes are
// either refused by normalize_request or handled without an exception other than DbError. A
// JSON exception escaping a handler is what once left a TS2021 connection deaf (issue 19).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "common/base/keys.h"
#include "common/store/db.h"
#include "common/store/store.h"
#include "tools/hs-control/request_check.h"
#include "tools/hs-control/tailnet.h"

namespace {

using nlohmann::json;

// A scratch tailnet with one registered node whose keys the fuzzer's requests borrow, so that
// they reach the code past the key lookups. Started over once it has grown.
struct World {
    std::filesystem::path dir;
    std::unique_ptr<hs::Db> db;
    std::unique_ptr<hs::control::Tailnet> tn;
    std::string key, machine, node;

    World() {
        char tmpl[] = "/tmp/hs-fuzz-XXXXXX";
        dir = ::mkdtemp(tmpl);
        db = std::make_unique<hs::Db>((dir / "db.sqlite").string());
        const auto user = hs::store::create_user(*db, "fuzz");
        key = hs::store::create_preauth_key(*db, user.id, true, false, std::nullopt, {}).secret;
        hs::Config cfg;
        cfg.server_url = "http://127.0.0.1:8080";
        cfg.prefix_v4 = "100.64.0.0/10";
        cfg.prefix_v6 = "fd7a:115c:a1e0::/48";
        cfg.dns.base_domain = "hs.test";
        tn = std::make_unique<hs::control::Tailnet>(*db, cfg, json::parse(R"({"Regions":{}})"));
        tn->load();
        machine = hs::key_text(hs::kMachinePrefix, hs::PrivateKey::generate().public_key().bytes);
        node = hs::key_text(hs::kNodePrefix, hs::PrivateKey::generate().public_key().bytes);
        tn->register_node(machine, {{"Version", 142}, {"NodeKey", node}, {"Auth", {{"AuthKey", key}}}},
                          hs::Clock::now());
    }
    ~World() {
        tn.reset();
        db.reset();
        std::filesystem::remove_all(dir);
    }
};

void handle(World& w, json req, bool as_map) {
    if (hs::control::normalize_request(req)) return;  // refused with a 400 that names the field
    const auto now = hs::Clock::now();
    try {
        if (as_map) w.tn->map_request(w.machine, req, now);
        else w.tn->register_node(w.machine, req, now, "192.0.2.1:1");
    } catch (const hs::DbError&) {
        // answered 503; the database may refuse, the handler may not throw anything else
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bool quiet = (spdlog::set_level(spdlog::level::off), true);
    (void)quiet;
    static auto world = std::make_unique<World>();
    if (world->tn->node_count() > 200) world = std::make_unique<World>();
    auto req = json::parse(data, data + size, nullptr, false);
    if (req.is_discarded()) return 0;
    handle(*world, req, false);
    if (!req.is_object()) return 0;
    // The same body from the registered node, as a map request and as a login with a real key.
    req["NodeKey"] = world->node;
    handle(*world, req, true);
    if (req.contains("Auth") && req["Auth"].is_object()) req["Auth"]["AuthKey"] = world->key;
    handle(*world, req, false);
    return 0;
}
