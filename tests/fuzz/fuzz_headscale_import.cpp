// headscale's rows on their way into hs (hs-admin import headscale), as arbitrary data: the
// input is JSON {"migrations": [...], "database_version": "...", "tables": {"nodes": [{"column":
// "value" or null, ...}], ...}}, the shape the SQLite and PostgreSQL readers hand over, and it
// goes through the conversion that checks the version and every row. ImportError is a refusal;
// any other exception escaping, a crash, a hang or a sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/store/headscale_import.h"

using namespace hs::store;
using nlohmann::json;

namespace {

std::optional<std::string> cell(const json& v) {
    if (v.is_null()) return std::nullopt;
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
}

HeadscaleTables tables_of(const json& in) {
    HeadscaleTables t;
    if (const auto m = in.find("migrations"); m != in.end() && m->is_array()) {
        t.has_migrations_table = true;
        for (const auto& id : *m)
            if (id.is_string()) t.migrations.push_back(id.get<std::string>());
    }
    if (const auto v = in.find("database_version"); v != in.end() && v->is_string())
        t.database_version = v->get<std::string>();
    if (const auto tabs = in.find("tables"); tabs != in.end() && tabs->is_object()) {
        for (const auto& [name, rows] : tabs->items()) {
            if (!rows.is_array()) continue;
            auto& out = t.tables[name];
            for (const auto& row : rows) {
                if (!row.is_object()) continue;
                HeadscaleRow r;
                for (const auto& [col, v] : row.items()) r[col] = cell(v);
                out.push_back(std::move(r));
            }
        }
    }
    return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto in = json::parse(std::string_view(reinterpret_cast<const char*>(data), size), nullptr, false);
    if (in.is_discarded() || !in.is_object()) return 0;
    try {
        (void)convert_headscale(tables_of(in), "fuzz.sqlite");
    } catch (const ImportError&) {}
    return 0;
}
