// hs-ts2021-probe: sends one kind of bad (or deliberately old) TS2021 input to a control server
// and reports in one line how the server answered. test_control_rejections.sh runs it next to
// real clients to show that such input is refused cleanly and harms nobody else.
//
// Exit status: 0 when the server behaved as expected, 1 when it did not (or could not be
// reached), 2 for a usage error.
#include <unistd.h>
#include <charconv>
#include <chrono>
#include <cstring>
#include <iostream>

#include "tests/interop/ts2021_client.h"

namespace {

using namespace ts2021;

// ---- probes -----------------------------------------------------------------------------------

std::string probe_not_upgrade(const Url& url) {
    Conn c(url);
    c.write(http_request(url, "POST", "/ts2021", "Connection: close\r\n"));
    const auto head = c.read_head();
    const auto body = c.read_body(head);
    const auto seen = "HTTP " + std::to_string(head.status) + " " + json_quoted(body);
    if (head.status != 400) throw Unexpected(seen + " instead of 400");
    if (body.find("Upgrade") == std::string::npos) throw Unexpected(seen + ": the body does not mention Upgrade");
    return seen;
}

std::string probe_bad_base64(const Url& url) {
    Conn c(url);
    c.write(upgrade_request(url, "this*is!not~base64"));
    const auto head = c.read_head();
    const auto seen = "HTTP " + std::to_string(head.status) + " " + json_quoted(c.read_body(head));
    if (head.status != 400) throw Unexpected(seen + " instead of 400");
    return seen;
}

std::string probe_truncated(const Url& url) {
    Conn c(url);
    upgrade(c, url, base64(random_bytes(50)));
    const auto header = c.read_exact(3, "an error frame");
    if (header[0] != hs::kNoiseTypeError)
        throw Unexpected("HTTP 101, then a frame of type " + hex_prefix(header.substr(0, 1)) +
                         " instead of an error frame (03)");
    const std::size_t len = static_cast<unsigned char>(header[1]) << 8 | static_cast<unsigned char>(header[2]);
    const auto text = c.read_exact(len, "the end of the error frame");
    if (text != "wrong handshake initiation size")
        throw Unexpected("HTTP 101, then error frame " + json_quoted(text) +
                         " instead of \"wrong handshake initiation size\"");
    const auto extra = c.wait_close();
    if (!extra.empty())
        throw Unexpected("HTTP 101, error frame " + json_quoted(text) + ", then more bytes: " + hex_prefix(extra));
    return "HTTP 101, then error frame (type 0x03) " + json_quoted(text) + ", then the server closed the connection";
}

std::string probe_garbage(const Url& url) {
    Bytes init = random_bytes(hs::kNoiseInitSize);
    init[0] = static_cast<std::uint8_t>(kCurrentVersion >> 8);
    init[1] = static_cast<std::uint8_t>(kCurrentVersion);
    init[2] = hs::kNoiseTypeInit;
    init[3] = 0;
    init[4] = 96;
    Conn c(url);
    upgrade(c, url, base64(init));
    Conn::End how = Conn::End::Open;
    const auto extra = c.wait_close(&how);
    if (!extra.empty())
        throw Unexpected("HTTP 101, then " + std::to_string(extra.size()) + " bytes (" + hex_prefix(extra) +
                         ") before the close");
    return std::string("HTTP 101, then the server ") + (how == Conn::End::Reset ? "reset" : "closed") +
           " the connection without sending any handshake message";
}

std::string probe_oversized(const Url& url) {
    Session s(url, kCurrentVersion);
    const auto early = s.early.dump();
    Bytes bad = {hs::kNoiseTypeRecord, 0x13, 0x88};  // 5000 bytes: more than any record may hold
    const auto junk = random_bytes(64);
    bad.insert(bad.end(), junk.begin(), junk.end());
    s.conn.write(bad);
    Conn::End how = Conn::End::Open;
    const auto extra = s.conn.wait_close(&how);
    return "handshake ok, early payload " + early + "; after a record header announcing 5000 bytes the server " +
           (how == Conn::End::Reset ? "reset" : "closed") + " the connection" +
           (extra.empty() ? "" : " (after " + std::to_string(extra.size()) + " more bytes)");
}

std::string probe_old_client(const Url& url, int version) {
    const auto body = do_register(url, version, "hskey-auth-x", "old");
    const auto error = body.value("Error", std::string());
    if (error.empty())
        throw Unexpected("HTTP 200 without an Error for version " + std::to_string(version) + ": " + body.dump());
    if (error.find("too old") == std::string::npos || error.find(std::to_string(version)) == std::string::npos)
        throw Unexpected("HTTP 200 with Error " + json_quoted(error) + ", which does not say version " +
                         std::to_string(version) + " is too old");
    return "HTTP 200 Error " + json_quoted(error);
}

// Waits (up to 10 s of silence) for the server to close a connection the probe no longer uses;
// says after how long. A server without deadlines keeps it open: Unexpected.
std::string closed_after(Session& s, std::chrono::steady_clock::time_point since) {
    Conn::End how = Conn::End::Open;
    s.conn.wait_close(&how);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since);
    return std::string(how == Conn::End::Reset ? "reset" : "closed") + " the connection after " +
           std::to_string(ms.count() / 1000) + "." + std::to_string(ms.count() % 1000 / 100) + " s";
}

std::string probe_silent(const Url& url) {
    Session s(url, kCurrentVersion);
    const auto since = std::chrono::steady_clock::now();
    return "handshake ok, then no request; the server " + closed_after(s, since);
}

std::string probe_idle(const Url& url) {
    Session s(url, kCurrentVersion);
    const auto call = post(s, url, "/machine/update-health", "{}");
    if (call.status != 200) throw Unexpected("update-health answered HTTP " + std::to_string(call.status));
    const auto since = std::chrono::steady_clock::now();
    return "handshake ok, one request answered, then silence; the server " + closed_after(s, since);
}

int parse_version(const std::string& text) {
    int v = -1;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v < 0 || v > 0xffff)
        throw std::invalid_argument("VERSION must be a number from 0 to 65535");
    return v;
}

constexpr const char* kUsage =
    "usage: hs-ts2021-probe COMMAND URL [ARG]\n"
    "  not-upgrade URL          POST /ts2021 without Upgrade: expect 400 mentioning Upgrade\n"
    "  bad-base64 URL           a handshake header that is not base64: expect 400\n"
    "  truncated URL            a 50-byte handshake: expect 101, error frame, close\n"
    "  garbage URL              101 random bytes with a valid header: expect 101, close\n"
    "  oversized URL            a transport record header announcing 5000 bytes: expect close\n"
    "  silent URL               complete the handshake, send nothing: expect a close within 10 s\n"
    "  idle URL                 one request, then nothing: expect a close within 10 s\n"
    "  old-client URL VERSION   register with an old capability version: expect a too-old Error\n"
    "  register URL AUTHKEY [HOSTNAME]\n"
    "                           register a fresh node with AUTHKEY (as HOSTNAME, default probe):\n"
    "                           print the JSON answer; the machine key used goes to stderr\n"
    "URL is http://HOST:PORT. Exit 0: as expected; 1: not; 2: usage.\n";

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) {
        std::cout << kUsage;
        return 0;
    }
    if (args.size() < 2) {
        std::cerr << kUsage;
        return 2;
    }
    const auto& cmd = args[0];
    const bool has_arg = cmd == "old-client" || cmd == "register";
    const bool optional_arg = cmd == "register" && args.size() == 4;
    if (args.size() != (has_arg ? 3u : 2u) + (optional_arg ? 1u : 0u)) {
        std::cerr << kUsage;
        return 2;
    }
    if (sodium_init() < 0) {
        std::cerr << "libsodium failed to initialise\n";
        return 1;
    }
    // Each socket operation is bounded; this bounds a server that trickles bytes forever.
    alarm(60);
    Url url;
    int version = 0;
    try {
        url = parse_url(args[1]);
        if (cmd == "old-client") version = parse_version(args[2]);
    } catch (const std::invalid_argument& e) {
        std::cerr << "hs-ts2021-probe: " << e.what() << "\n";
        return 2;
    }
    try {
        std::string line;
        if (cmd == "not-upgrade") line = probe_not_upgrade(url);
        else if (cmd == "bad-base64") line = probe_bad_base64(url);
        else if (cmd == "truncated") line = probe_truncated(url);
        else if (cmd == "garbage") line = probe_garbage(url);
        else if (cmd == "oversized") line = probe_oversized(url);
        else if (cmd == "silent") line = probe_silent(url);
        else if (cmd == "idle") line = probe_idle(url);
        else if (cmd == "old-client") line = probe_old_client(url, version);
        else if (cmd == "register") {
            // Only the JSON, so that scripts can pipe it to jq.
            std::cout << do_register(url, kCurrentVersion, args[2], optional_arg ? args[3] : "probe").dump() << "\n";
            return 0;
        } else {
            std::cerr << "hs-ts2021-probe: unknown command " << cmd << "\n" << kUsage;
            return 2;
        }
        std::cout << cmd << ": " << line << "\n";
        return 0;
    } catch (const Unexpected& e) {
        std::cout << cmd << ": UNEXPECTED: " << e.what() << "\n";
    } catch (const std::exception& e) {
        std::cout << cmd << ": ERROR: " << e.what() << "\n";
    }
    return 1;
}
