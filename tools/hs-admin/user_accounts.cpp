// hs-admin users set-password and users mfa: the secrets of built-in accounts (auth.local,
// docs/security.md). They work on the server's database only: a password or TOTP secret is
// never sent over the REST API, and never taken from the command line, where `ps` shows it.
#include <qrencode.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include <sodium.h>

#include "common/admin/audit.h"
#include "common/auth/password.h"
#include "common/auth/totp.h"
#include "common/store/credentials.h"
#include "common/store/store.h"
#include "tools/hs-admin/commands.h"

namespace hs::admin {
namespace {

constexpr int kRecoveryCodes = 10;
constexpr std::size_t kTotpSecretBytes = 20;  // RFC 4226 §4 R6: 160 bits recommended

// One line from the terminal with echo off, the prompt on stderr.
std::string read_hidden_line(const char* prompt) {
    std::cerr << prompt << std::flush;
    termios old{};
    ::tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    std::string line;
    std::getline(std::cin, line);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    std::cerr << "\n";
    return line;
}

// The first line of stdin, read at most kMaxPasswordBytes + 1 bytes so a huge input is refused
// without being held.
std::string read_piped_line() {
    std::string line;
    int c;
    while ((c = std::getchar()) != EOF && c != '\n') {
        line += static_cast<char>(c);
        if (line.size() > auth::kMaxPasswordBytes) break;
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

std::string read_new_password() {
    if (!::isatty(STDIN_FILENO)) return read_piped_line();
    auto first = read_hidden_line("New password: ");
    if (first.size() <= auth::kMaxPasswordBytes && read_hidden_line("Repeat it: ") != first)
        throw store::StoreError("the two passwords differ; nothing was changed");
    return first;
}

// A user that may have a password: exists, is not an OIDC user, has no guessable name.
User account_user(Context& ctx, const std::string& ref) {
    if (!ctx.remote.empty())
        throw store::StoreError(
            "this command works on the server's database only (run it on the server without "
            "--remote): passwords and TOTP secrets are not sent over the API");
    auto u = store::resolve_user(ctx.db(), ref);
    if (u.provider == "oidc")
        throw store::StoreError("user " + u.name +
                                " signs in through the identity provider (OIDC), not with a password");
    if (auth::reserved_login_name(u.name))
        throw store::StoreError("user name \"" + u.name +
                                "\" is refused for accounts that sign in: it is among the first names anyone guesses "
                                "(admin, root, administrator, test, ...); create a personal user instead");
    return u;
}

void audit_local(Context& ctx, const std::string& action, const User& u, const json& after) {
    store::AuditEntry e{.at = Clock::now(),
                        .actor = unix_actor(),
                        .action = action,
                        .object = "user " + std::to_string(u.id) + " (" + u.name + ")",
                        .after = after.dump(),
                        .source = "local"};
    store::append_audit(ctx.db(), e);
}

// The QR code in text, two modules per character cell (upper and lower half blocks), light
// modules drawn, with the 4-module quiet zone ISO/IEC 18004 asks for: it scans from a dark
// terminal as `qrencode -t UTF8` output does.
std::string qr_text(const std::string& text) {
    std::unique_ptr<QRcode, decltype(&QRcode_free)> qr(QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1),
                                                       QRcode_free);
    if (!qr) throw std::runtime_error("could not make a QR code of the URI");
    const int w = qr->width, quiet = 4, size = w + 2 * quiet;
    auto light = [&](int x, int y) {
        x -= quiet;
        y -= quiet;
        if (x < 0 || y < 0 || x >= w || y >= w) return true;
        return (qr->data[y * w + x] & 1) == 0;
    };
    std::string out;
    for (int y = 0; y < size; y += 2) {
        for (int x = 0; x < size; ++x) {
            const bool top = light(x, y), bottom = y + 1 < size ? light(x, y + 1) : true;
            out += top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ";
        }
        out += "\n";
    }
    return out;
}

// "hs <host>": what the authenticator app shows above the code. No scheme or port: the label's
// issuer is cut at the first ':' by some apps.
std::string totp_issuer(const std::string& server_url) {
    auto host = server_url.substr(server_url.find("://") == std::string::npos ? 0 : server_url.find("://") + 3);
    host = host.substr(0, host.find('/'));
    if (!host.empty() && host[0] == '[') host = host.substr(1, host.find(']') - 1);
    else host = host.substr(0, host.find(':'));
    return host.empty() ? "hs" : "hs " + host;
}

void add_set_password(CLI::App& noun, Context& ctx, Actions& actions) {
    struct Opts {
        std::string user;
        std::vector<std::string> extra;
        std::string flag_password;
    };
    auto o = std::make_shared<Opts>();
    auto* cmd = add_verb(noun, "set-password",
                         "Set a user's password for signing in on /register/<id> (auth.local): typed without echo, "
                         "or the first line of stdin when it is not a terminal");
    cmd->add_option("NAME", o->user, "The user's name or ID")->required();
    // Caught so the refusal says why, instead of CLI11's "extra arguments".
    cmd->add_option("PASSWORD", o->extra, "(refused: never give a password on the command line)");
    cmd->add_option("-p,--password", o->flag_password, "(refused: never give a password on the command line)");
    actions[cmd] = [&ctx, o] {
        if (!o->extra.empty() || !o->flag_password.empty())
            throw store::StoreError(
                "a password on the command line is refused: other users see it in `ps` and it stays in shell "
                "history. Run `hs-admin users set-password " +
                o->user + "` and type it, or pipe it on stdin");
        const auto u = account_user(ctx, o->user);
        const auto password = read_new_password();
        const auto& la = ctx.config().local_auth;
        const auth::PasswordPolicy policy{.min_length = static_cast<std::size_t>(la.password_min_length)};
        if (const auto why = auth::password_refusal(password, u.name, policy))
            throw store::StoreError(*why + "; nothing was changed");
        const auto hash = auth::hash_password(
            password, {static_cast<unsigned long long>(la.opslimit), static_cast<std::size_t>(la.memlimit_mib) << 20});
        store::set_password_hash(ctx.db(), u.id, hash, Clock::now());
        audit_local(ctx, "users.set_password", u, json::object());
        print_result(ctx, result_json("password set for user " + u.name));
        return 0;
    };
}

void add_mfa(CLI::App& noun, Context& ctx, Actions& actions) {
    auto* mfa = add_verb(noun, "mfa", "Two-step sign-in (TOTP) for a built-in account");
    mfa->require_subcommand(1);
    auto user = std::make_shared<std::string>();
    auto* enroll = add_verb(*mfa, "enroll",
                            "Make a new TOTP secret and recovery codes (replacing any earlier ones) and print them "
                            "once: the otpauth:// URI, its QR code and the codes");
    enroll->add_option("NAME", *user, "The user's name or ID")->required();
    actions[enroll] = [&ctx, user] {
        const auto u = account_user(ctx, *user);
        std::string secret(kTotpSecretBytes, '\0');
        randombytes_buf(secret.data(), secret.size());
        std::vector<std::string> codes, hashes;
        for (int i = 0; i < kRecoveryCodes; ++i) {
            codes.push_back(auth::new_recovery_code());
            hashes.push_back(auth::recovery_code_hash(codes.back()));
        }
        store::set_totp(ctx.db(), u.id, auth::base32_encode(secret), hashes);
        audit_local(ctx, "users.mfa_enrolled", u, {{"recovery_codes", kRecoveryCodes}});
        const auto issuer = totp_issuer(ctx.config().server_url);
        const auto uri = auth::otpauth_uri(issuer, u.name, secret);
        if (ctx.format() != Format::table) {
            print_object(ctx.format(), json{{"user", u.name}, {"otpauth_uri", uri}, {"recovery_codes", codes}}, {});
            return 0;
        }
        std::cout << "Scan this QR code with an authenticator app, or enter the URI by hand:\n\n"
                  << qr_text(uri) << "\n"
                  << uri << "\n\nRecovery codes (each works once in place of a code; shown only now):\n";
        for (const auto& c : codes) std::cout << "  " << c << "\n";
        return 0;
    };
    auto* disable = add_verb(*mfa, "disable", "Remove a user's TOTP secret and recovery codes");
    disable->add_option("NAME", *user, "The user's name or ID")->required();
    actions[disable] = [&ctx, user] {
        const auto u = account_user(ctx, *user);
        if (!store::clear_totp(ctx.db(), u.id))
            throw store::StoreError("user " + u.name + " has no two-step sign-in enrolled");
        audit_local(ctx, "users.mfa_disabled", u, json::object());
        print_result(ctx, result_json("two-step sign-in removed for user " + u.name));
        return 0;
    };
}

}  // namespace

void add_user_accounts(CLI::App& noun, Context& ctx, Actions& actions) {
    add_set_password(noun, ctx, actions);
    add_mfa(noun, ctx, actions);
}

}  // namespace hs::admin
