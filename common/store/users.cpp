#include <algorithm>
#include <cctype>

#include "common/store/store.h"

namespace hs::store {
namespace {

constexpr const char* kUserColumns =
    "SELECT id, name, display_name, email, provider, provider_identifier, profile_pic_url, created_at, oidc_groups "
    "FROM users";

User read_user(const Stmt& st) {
    User u;
    u.id = st.int64(0);
    u.name = st.text(1);
    u.display_name = st.text(2);
    u.email = st.text(3);
    u.provider = st.text(4);
    u.provider_identifier = st.opt_text(5);
    u.profile_pic_url = st.text(6);
    u.created_at = parse_time(st.text(7)).value_or(TimePoint{});
    const auto groups = nlohmann::json::parse(st.text(8), nullptr, false);
    if (groups.is_array())
        for (const auto& g : groups)
            if (g.is_string()) u.groups.push_back(g.get<std::string>());
    return u;
}

}  // namespace

void validate_user_name(std::string_view name) {
    const std::string quoted = "user name \"" + std::string(name) + "\"";
    if (name.size() < 2 || name.size() > 63) throw StoreError(quoted + ": must be 2 to 63 characters long");
    if (!std::isalpha(static_cast<unsigned char>(name[0]))) throw StoreError(quoted + ": must start with a letter");
    int ats = 0;
    for (char c : name) {
        if (c == '@') {
            ++ats;
            continue;
        }
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_')
            throw StoreError(quoted + ": only letters, digits, '-', '.', '_' and one '@' are allowed");
    }
    if (ats > 1) throw StoreError(quoted + ": at most one '@' is allowed");
}

User create_user(Db& db, const std::string& name, const std::string& display_name, const std::string& email,
                 const std::string& picture_url) {
    validate_user_name(name);
    const bool web = picture_url.rfind("https://", 0) == 0 || picture_url.rfind("http://", 0) == 0;
    if (!picture_url.empty() && (!web || picture_url.find_first_of(" \t\r\n") != std::string::npos))
        throw StoreError("invalid picture URL \"" + picture_url + "\": expected an http:// or https:// URL");
    Db::Tx tx(db);
    if (find_user_by_name(db, name)) throw StoreError("user \"" + name + "\" already exists");
    const auto now = format_time(Clock::now());
    db.prepare(
          "INSERT INTO users(name, display_name, email, profile_pic_url, created_at, updated_at) VALUES (?, ?, ?, ?, "
          "?, ?)")
        .bind(1, name)
        .bind(2, display_name)
        .bind(3, email)
        .bind(4, picture_url)
        .bind(5, now)
        .bind(6, now)
        .run();
    const auto id = db.last_insert_id();
    tx.commit();
    return *find_user(db, id);
}

std::vector<User> list_users(Db& db) {
    auto st = db.prepare(std::string(kUserColumns) + " ORDER BY id");
    std::vector<User> out;
    while (st.step()) out.push_back(read_user(st));
    return out;
}

std::optional<User> find_user(Db& db, std::int64_t id) {
    auto st = db.prepare(std::string(kUserColumns) + " WHERE id = ?");
    st.bind(1, id);
    if (!st.step()) return std::nullopt;
    return read_user(st);
}

std::optional<User> find_user_by_name(Db& db, std::string_view name) {
    auto st =
        db.prepare(std::string(kUserColumns) + " WHERE name = ? ORDER BY provider_identifier IS NOT NULL, id LIMIT 1");
    st.bind(1, name);
    if (!st.step()) return std::nullopt;
    return read_user(st);
}

User resolve_user(Db& db, std::string_view ref) {
    if (!ref.empty() && std::all_of(ref.begin(), ref.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
        ref.size() < 18) {
        if (auto u = find_user(db, std::stoll(std::string(ref)))) return *u;
    }
    if (auto u = find_user_by_name(db, ref)) return *u;
    throw NotFound("user \"" + std::string(ref) + "\" not found");
}

void probe_readable(Db& db) { db.prepare("SELECT count(*) FROM users").step(); }

}  // namespace hs::store

namespace hs::store {

void rename_user(Db& db, std::int64_t id, const std::string& new_name) {
    validate_user_name(new_name);
    Db::Tx tx(db);
    const auto u = find_user(db, id);
    if (!u) throw NotFound("user " + std::to_string(id) + " not found");
    // Names of users from a login provider come from that provider at every login.
    if (u->provider_identifier)
        throw StoreError("user \"" + u->name + "\" comes from " +
                         (u->provider.empty() ? "a login provider" : u->provider) + " and cannot be renamed here");
    if (u->name == new_name) return;
    if (find_user_by_name(db, new_name)) throw StoreError("user \"" + new_name + "\" already exists");
    db.prepare("UPDATE users SET name = ?, updated_at = ? WHERE id = ?")
        .bind(1, new_name)
        .bind(2, format_time(Clock::now()))
        .bind(3, id)
        .run();
    tx.commit();
}

void delete_user(Db& db, std::int64_t id) {
    Db::Tx tx(db);
    const auto u = find_user(db, id);
    if (!u) throw NotFound("user " + std::to_string(id) + " not found");
    auto st = db.prepare("SELECT count(*) FROM nodes WHERE user_id = ?");
    st.bind(1, id).step();
    if (const auto n = st.int64(0); n > 0)
        throw StoreError("user \"" + u->name + "\" still owns " + std::to_string(n) + (n == 1 ? " node" : " nodes") +
                         "; delete or move them first");
    db.prepare("DELETE FROM users WHERE id = ?").bind(1, id).run();
    tx.commit();
}

}  // namespace hs::store
