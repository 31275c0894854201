// hs-admin import headscale FILE: moves a headscale tailnet (users, nodes with their keys and
// addresses, pre-auth and API keys, the stored policy) into the hs database the config (-c)
// names, so the same clients keep working without logging in again. The headscale file is
// only read; with --in-place (when the config's database is that very file, as with headscale's
// own config.yaml) it is moved aside, never modified. The hs database may be SQLite or PostgreSQL;
// on PostgreSQL nothing is moved (there is no file to replace) and headscale's file stays put.
#include <sys/stat.h>
#include <cstdio>
#include <filesystem>

#include "common/base/lock_file.h"
#include "common/config/database.h"
#include "common/store/db_target.h"
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

// The dry run's look at the target, writing nothing: whether the import will need --force, and
// on PostgreSQL whether a running hs-control will refuse it. An empty PostgreSQL database (no
// hs schema yet) opens read-only too.
void dry_run_notes(const Config& cfg, bool in_place, bool force) {
    const bool pg = database_is_postgres(cfg);
    if (in_place || (!pg && !std::filesystem::exists(cfg.database_path))) return;
    auto opts = database_options(cfg);
    opts.read_only = true;
    opts.any_older_version = pg;
    Db db(database_name(cfg), opts);
    if (pg && db.schema_version() == 0) return;
    if (!store::count_tailnet(db).empty() && !force)
        std::fprintf(stderr, "note: %s is not empty; the import will need --force, which replaces it\n",
                     database_name(cfg).c_str());
    try {
        store::exclude_instances(db);
    } catch (const DbError& e) {
        std::fprintf(stderr, "note: %s; until then the import is refused\n", e.what());
    }
}

// What keeps hs-control off the target while the import writes. SQLite: the lock file hs-control
// holds while it serves. PostgreSQL: the connection the import writes through, holding the lock
// every hs-control instance shares, alone (refused while one runs; none starts until it closes).
struct TargetGuard {
    std::unique_ptr<LockFile> lock;
    std::unique_ptr<Db> pg;
};

TargetGuard guard_target(const Config& cfg) {
    TargetGuard g;
    if (!database_is_postgres(cfg)) {
        g.lock = std::make_unique<LockFile>(cfg.database_path + ".lock", "database " + cfg.database_path);
        return g;
    }
    g.pg = std::make_unique<Db>(database_name(cfg), database_options(cfg));
    try {
        store::exclude_instances(*g.pg);
    } catch (const DbError& e) {
        throw store::ImportError(e.what() + store::kNothingImported);
    }
    return g;
}

// Writes into the SQLite target, moving headscale's file aside first with --in-place.
std::string write_sqlite(const Config& cfg, const store::HeadscaleImport& imp, bool in_place, bool force) {
    std::string moved;
    if (in_place) moved = move_aside(cfg.database_path);
    try {
        // Its own connection, closed (by unwinding) before move_back: SQLite removes a -wal by
        // name when the last connection closes, which must not hit headscale's restored one.
        Db db(cfg.database_path,
              Db::Options{.wal = cfg.database_wal, .wal_autocheckpoint = cfg.database_wal_autocheckpoint});
        store::write_headscale_import(db, imp, force);
    } catch (...) {
        if (!moved.empty()) move_back(moved, cfg.database_path);
        throw;
    }
    return moved;
}

int run_import(Context& ctx, const ImportFlags& f) {
    const bool postgres = is_postgres_url(f.source);
    const auto& cfg = ctx.config();
    const bool target_pg = database_is_postgres(cfg);
    if (target_pg && f.in_place)
        throw store::ImportError(
            "--in-place moves headscale's SQLite file aside to put hs's database at its path, but the config's "
            "database is PostgreSQL (database.type postgres): import into it without --in-place (headscale's "
            "file is only read); nothing was imported");
    const bool in_place = !postgres && !target_pg && same_file(f.source, cfg.database_path);
    if (in_place && !f.in_place && !f.dry_run)
        throw store::ImportError("the config's database.sqlite.path (" + cfg.database_path +
                                 ") is the headscale file itself: add --in-place to move it aside to " +
                                 cfg.database_path +
                                 ".headscale-import and create hs's database there, or point "
                                 "-c at a config with its own database.sqlite.path; nothing was imported");
    // Before the source is read: a running hs-control is refused at once.
    TargetGuard guard;
    if (!f.dry_run) guard = guard_target(cfg);
    const auto tables = postgres ? store::read_headscale_postgres(f.source) : store::read_headscale_db(f.source);
    const auto shown = postgres ? store::redacted_postgres_url(f.source) : f.source;
    const auto imp = store::convert_headscale(tables, shown);
    const auto s = summary(imp, shown, database_name(cfg), f.dry_run);
    if (f.dry_run) {
        dry_run_notes(cfg, in_place, ctx.force);
        print_text(ctx.format(), s, summary_text(s));
        return 0;
    }
    std::string moved;
    if (guard.pg) store::write_headscale_import(*guard.pg, imp, ctx.force);
    else moved = write_sqlite(cfg, imp, in_place, ctx.force);
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
        "Import headscale's SQLite or PostgreSQL database (0.23 to 0.29) into the hs database of the config (-c, "
        "SQLite or PostgreSQL): "
        "users, nodes, pre-auth and API keys, the stored policy. Clients keep working without "
        "logging in again. Refuses a non-empty hs database unless --force (which replaces it).");
    cmd->add_option("FILE", f->source,
                    "headscale's database file (database.sqlite.path in its config), or a postgres:// URL for its "
                    "PostgreSQL database")
        ->required();
    cmd->add_flag("--dry-run", f->dry_run, "Print what would be imported and what would be left behind; write nothing");
    cmd->add_flag("--in-place", f->in_place,
                  "When the config's database is the headscale file itself (headscale's own config.yaml): move it "
                  "to FILE.headscale-import and create hs's database at its path (SQLite only)");
    actions[cmd] = [&ctx, f] { return run_import(ctx, *f); };
}

}  // namespace hs::admin
