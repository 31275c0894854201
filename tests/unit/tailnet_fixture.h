// What the Tailnet tests share: a scratch SQLite file and a map sink that decodes every frame.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/db.h"
#include "common/mapframe.h"
#include "tools/hs-control/tailnet.h"

namespace hs::test {

struct TempDb {
    std::filesystem::path dir;
    std::unique_ptr<Db> db;
    TempDb() {
        char tmpl[] = "/tmp/hs-tailnet-XXXXXX";
        dir = ::mkdtemp(tmpl);
        db = std::make_unique<Db>(path());
    }
    ~TempDb() { std::filesystem::remove_all(dir); }
    std::string path() const { return (dir / "db.sqlite").string(); }
};

// Collects what a stream would send, decoded.
struct Sink : control::MapSink {
    std::vector<nlohmann::json> got;
    bool ended = false;
    void push(std::shared_ptr<const std::string> frame) override {
        std::string_view v(*frame);
        got.push_back(nlohmann::json::parse(unframe_one(v)));
    }
    void end() override { ended = true; }
};

}  // namespace hs::test
