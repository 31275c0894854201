// hs-admin import headscale FILE: moves a headscale tailnet (users, nodes with their keys and
// addresses, pre-auth and API keys, the stored policy) into the hs database the config (-c)
// names, so the same clients keep working without logging in again. The headscale file is
// only read; with --in-place (when the config's database is that very file, as with headscale's
// own config.yaml) it is moved aside, never modified.
#include <sys/stat.h>
#include <cstdio>
#include <filesystem>

#include "common/base/lock_file.h"
#include "common/config/database.h"
#include "common/store/headscale_import.h"
#include "tools/hs-admin/commands.h"

namespace hs::admin {
namespace {

struct ImportFlags {
    std::string source;
    bool dry_run = false;
    bool in_place = false;
};

bool same_file(const std::string& a, const std::string& b) {
    struct stat sa {
    }, sb{};
    if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

json summary(const store::HeadscaleImport& imp, const std::string& source, const std::string& target, bool dry_run) {
    json nodes = json::array();
    for (const auto& n : imp.nodes)
        nodes.push_back({{"id", n.id},
                         {"given_name", n.given_name},
                         {"ipv4", n.ipv4 ? json(*n.ipv4) : json(nullptr)},
                         {"ipv6", n.ipv6 ? json(*n.ipv6) : json(nullptr)},
                         {"tags", n.tags},
                         {"approved_routes", n.approved_routes}});
    return {{"source", source},
            {"source_kind", imp.source},
            {"database", target},
            {"dry_run", dry_run},
            {"users", imp.users.size()},
            {"nodes", nodes},
            {"preauth_keys", imp.preauth_keys.size()},
            {"api_keys", imp.api_keys.size()},
            {"policy", imp.policy.has_value()},
            {"not_imported", imp.not_imported}};
}

std::string summary_text(const json& s) {
    std::string out = std::string(s["dry_run"].get<bool>() ? "Would import" : "Imported") + " from " +
                      s["source"].get<std::string>() + " (" + s["source_kind"].get<std::string>() + ") into " +
                      s["database"].get<std::string>() + ":\n";
    out += "  users: " + std::to_string(s["users"].get<std::size_t>()) + "\n";
    out += "  nodes: " + std::to_string(s["nodes"].size()) + "\n";
    for (const auto& n : s["nodes"])
        out += "    " + std::to_string(n["id"].get<std::int64_t>()) + " " + n["given_name"].get<std::string>() + " " +
               cell(n["ipv4"]) + " " + cell(n["ipv6"]) + (n["tags"].empty() ? "" : " tags " + cell(n["tags"])) +
               (n["approved_routes"].empty() ? "" : " routes " + cell(n["approved_routes"])) + "\n";
    out += "  pre-auth keys: " + std::to_string(s["preauth_keys"].get<std::size_t>()) + "\n";
    out += "  API keys: " + std::to_string(s["api_keys"].get<std::size_t>()) + "\n";
    out += std::string("  policy: ") + (s["policy"].get<bool>() ? "yes" : "none stored in the database") + "\n";
    if (s["not_imported"].empty()) return out + "Nothing was left behind.";
    out += "Not carried over (or carried over with a change):";
    for (const auto& line : s["not_imported"]) out += "\n  - " + line.get<std::string>();
    return out;
}

// The headscale files (db, -wal, -shm) move to <path>.headscale-import together; SQLite finds a
// WAL by name, so the moved copy still opens with everything headscale committed.
constexpr const char* kSuffixes[] = {"", "-wal", "-shm"};

// Undoes move_aside after a failed import: hs's new files go (its -wal must never be read as
// headscale's) and headscale's come back. The main file is only removed when headscale's was
// moved, so nothing of headscale's is ever deleted.
void move_back(const std::string& moved, const std::string& path) {
    std::error_code ec;
    const bool main_moved = std::filesystem::exists(moved, ec);
    for (const char* suffix : kSuffixes) {
        if (*suffix || main_moved) std::filesystem::remove(path + suffix, ec);
        if (std::filesystem::exists(moved + suffix, ec)) std::filesystem::rename(moved + suffix, path + suffix, ec);
    }
}

std::string move_aside(const std::string& path) {
    const std::string to = path + ".headscale-import";
    for (const char* suffix : kSuffixes)
        if (std::filesystem::exists(to + suffix))
            throw store::ImportError(to + suffix +
                                     " already exists (from an earlier --in-place import?); move it "
                                     "away first; nothing was imported");
    for (const char* suffix : {"-wal", "-shm", ""}) {
        const auto from = path + suffix;
        std::error_code ec;
        if (!std::filesystem::exists(from, ec)) continue;
        std::filesystem::rename(from, to + suffix, ec);
        if (ec) {
            const auto why = ec.message();
            move_back(to, path);
            throw store::ImportError("cannot move " + from + " aside: " + why + "; nothing was imported");
        }
    }
    return to;
}

int run_import(Context& ctx, const ImportFlags& f) {
    const bool postgres = f.source.rfind("postgres://", 0) == 0 || f.source.rfind("postgresql://", 0) == 0;
    const auto& cfg = ctx.config();
    if (database_is_postgres(cfg))
        throw store::ImportError(
            "importing into a PostgreSQL database (database.type postgres) is not supported yet: import into a "
            "SQLite database.sqlite.path; nothing was imported");
    const bool in_place = !postgres && same_file(f.source, cfg.database_path);
    if (in_place && !f.in_place && !f.dry_run)
        throw store::ImportError("the config's database.sqlite.path (" + cfg.database_path +
                                 ") is the headscale file itself: add --in-place to move it aside to " +
                                 cfg.database_path +
                                 ".headscale-import and create hs's database there, or point "
                                 "-c at a config with its own database.sqlite.path; nothing was imported");
    // hs-control holds this lock while it serves; importing under it would change its tailnet.
    std::unique_ptr<LockFile> lock;
    if (!f.dry_run) lock = std::make_unique<LockFile>(cfg.database_path + ".lock", "database " + cfg.database_path);
    const auto tables = postgres ? store::read_headscale_postgres(f.source) : store::read_headscale_db(f.source);
    const auto shown = postgres ? store::redacted_postgres_url(f.source) : f.source;
    const auto imp = store::convert_headscale(tables, shown);
    const auto s = summary(imp, shown, cfg.database_path, f.dry_run);
    if (f.dry_run) {
        if (!in_place && std::filesystem::exists(cfg.database_path)) {
            Db::Options opts{.read_only = true};
            Db db(cfg.database_path, opts);
            if (!store::count_tailnet(db).empty() && !ctx.force)
                std::fprintf(stderr, "note: %s is not empty; the import will need --force, which replaces it\n",
                             cfg.database_path.c_str());
        }
        print_text(ctx.format(), s, summary_text(s));
        return 0;
    }
    std::string moved;
    if (in_place) moved = move_aside(cfg.database_path);
    try {
        // Its own connection, closed (by unwinding) before move_back: SQLite removes a -wal by
        // name when the last connection closes, which must not hit headscale's restored one.
        Db db(cfg.database_path,
              Db::Options{.wal = cfg.database_wal, .wal_autocheckpoint = cfg.database_wal_autocheckpoint});
        store::write_headscale_import(db, imp, ctx.force);
    } catch (...) {
        if (!moved.empty()) move_back(moved, cfg.database_path);
        throw;
    }
    auto out = s;
    if (!moved.empty()) out["moved_headscale_database_to"] = moved;
    print_text(ctx.format(), out,
               summary_text(s) + (moved.empty() ? "" : "\nheadscale's files were moved to " + moved));
    return 0;
}

}  // namespace

void add_import(CLI::App& app, Context& ctx, Actions& actions) {
    auto* noun = add_noun(app, "import", "Import a tailnet from another control server");
    auto f = std::make_shared<ImportFlags>();
    auto* cmd = add_verb(
        *noun, "headscale",
        "Import headscale's SQLite or PostgreSQL database (0.23 to 0.29) into the hs database of the config (-c): "
        "users, nodes, pre-auth and API keys, the stored policy. Clients keep working without "
        "logging in again. Refuses a non-empty hs database unless --force (which replaces it).");
    cmd->add_option("FILE", f->source,
                    "headscale's database file (database.sqlite.path in its config), or a postgres:// URL for its "
                    "PostgreSQL database")
        ->required();
    cmd->add_flag("--dry-run", f->dry_run, "Print what would be imported and what would be left behind; write nothing");
    cmd->add_flag("--in-place", f->in_place,
                  "When the config's database is the headscale file itself (headscale's own config.yaml): move it "
                  "to FILE.headscale-import and create hs's database at its path");
    actions[cmd] = [&ctx, f] { return run_import(ctx, *f); };
}

}  // namespace hs::admin
