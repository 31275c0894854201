// hs-ts2021-abuse: what a hostile or broken peer does to a control server after the Noise
// handshake, for test_control_abuse.sh. Each command prints one line per observation.
//
//   flood URL CONNS STREAMS       CONNS connections, each opening STREAMS requests that send
//                                 1 MiB - 1 byte and never end; prints how each connection ended
//   login-flood URL N             N interactive logins from fresh machine keys; prints how many
//                                 got a login URL and how many were refused
//   key-flood URL N KEY [MS]      N registrations on one connection, each a fresh node with a
//                                 wrong pre-auth key: KEY followed by 64 random hex digits
//                                 (KEY "hskey-auth-<prefix>-" tries an existing key's prefix),
//                                 MS milliseconds apart (default 0: each as soon as the last
//                                 is answered); prints the answers by kind (digits as N) and
//                                 the time taken
//   session URL AUTHKEY STEP...   one connection, one node, the steps in order on it:
//       register                  register the node with AUTHKEY
//       map-lite[=HOSTNAME]       a lite map request (reports a Hostinfo with HOSTNAME)
//       map-version-string        a map request whose Version is the string "142"
//       register-again            the node logs in again with AUTHKEY (a database write)
//       sleep=SECONDS             wait (for the test to change the world meanwhile)
//     each step prints "STEP HTTP STATUS BODY (N ms)".
//
// Exit status: 0 when every step ran (whatever the server answered), 1 when the connection
// failed in a way the command cannot report, 2 for a usage error.
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "tests/interop/ts2021_client.h"

namespace {

using namespace ts2021;

// Requests in flight on one HTTP/2 session over a Session: unlike post(), several at a time and
// several in turn, so that "the next request on the same connection" can be observed.
class H2Client {
public:
    struct Call {
        int status = 0;
        std::string request, response;
        std::size_t sent = 0;
        std::size_t stop_after = std::string::npos;  // send this many bytes, then never end
        bool done = false;
        std::uint32_t error_code = 0;
    };

    H2Client(Session& s, Url url) : s_(s), url_(std::move(url)) {
        nghttp2_session_callbacks* cbs = nullptr;
        nghttp2_session_callbacks_new(&cbs);
        nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
        nghttp2_session_client_new(&h2_, cbs, this);
        nghttp2_session_callbacks_del(cbs);
        nghttp2_submit_settings(h2_, NGHTTP2_FLAG_NONE, nullptr, 0);
    }
    ~H2Client() { nghttp2_session_del(h2_); }
    H2Client(const H2Client&) = delete;
    H2Client& operator=(const H2Client&) = delete;

    // Starts a POST; returns its stream id. With `stop_after`, the body stops there unended.
    std::int32_t submit(std::string_view path, std::string body, std::size_t stop_after = std::string::npos) {
        auto call = std::make_unique<Call>();
        call->request = std::move(body);
        call->stop_after = stop_after;
        const auto authority = url_.authority();
        const auto length = std::to_string(call->request.size());
        const nghttp2_nv hdrs[] = {nv(":method", "POST"),
                                   nv(":scheme", "https"),
                                   nv(":authority", authority),
                                   nv(":path", path),
                                   nv("content-type", "application/json"),
                                   nv("content-length", length)};
        nghttp2_data_provider provider{};
        provider.source.ptr = call.get();
        provider.read_callback = read_body;
        const auto id = nghttp2_submit_request(h2_, nullptr, hdrs, std::size(hdrs), &provider, nullptr);
        if (id < 0) throw std::runtime_error(std::string("nghttp2: ") + nghttp2_strerror(id));
        calls_[id] = std::move(call);
        return id;
    }

    // Sends what is queued and reads until `id` is answered; false when the server closed first.
    bool wait(std::int32_t id) {
        while (!calls_.at(id)->done)
            if (!pump()) return false;
        return true;
    }

    // One round: send what nghttp2 has, read what arrives. False once the server has closed.
    bool pump() {
        Bytes out;
        const std::uint8_t* data = nullptr;
        ssize_t n;
        while ((n = nghttp2_session_mem_send(h2_, &data)) > 0) out.insert(out.end(), data, data + n);
        if (!out.empty()) {
            try {
                s_.send(out);
            } catch (const Unexpected&) {
                return false;
            }
        }
        if (!s_.receive()) return false;
        if (nghttp2_session_mem_recv(h2_, s_.plain.data(), s_.plain.size()) < 0) return false;
        s_.plain.clear();
        return true;
    }

    const Call& call(std::int32_t id) const { return *calls_.at(id); }
    std::size_t bytes_sent() const {
        std::size_t n = 0;
        for (const auto& [id, c] : calls_) n += c->sent;
        return n;
    }

private:
    static H2Client* self(void* user) { return static_cast<H2Client*>(user); }
    Call* find(std::int32_t id) {
        const auto it = calls_.find(id);
        return it == calls_.end() ? nullptr : it->second.get();
    }
    static int on_header(nghttp2_session*, const nghttp2_frame* f, const std::uint8_t* name, std::size_t namelen,
                         const std::uint8_t* value, std::size_t valuelen, std::uint8_t, void* user) {
        auto* c = self(user)->find(f->hd.stream_id);
        if (c && std::string_view(reinterpret_cast<const char*>(name), namelen) == ":status") {
            const auto* v = reinterpret_cast<const char*>(value);
            std::from_chars(v, v + valuelen, c->status);
        }
        return 0;
    }
    static int on_data(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* d, std::size_t len,
                       void* user) {
        if (auto* c = self(user)->find(id)) c->response.append(reinterpret_cast<const char*>(d), len);
        return 0;
    }
    static int on_close(nghttp2_session*, std::int32_t id, std::uint32_t code, void* user) {
        if (auto* c = self(user)->find(id)) {
            c->done = true;
            c->error_code = code;
        }
        return 0;
    }
    static ssize_t read_body(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length,
                             std::uint32_t* flags, nghttp2_data_source* src, void*) {
        auto* c = static_cast<Call*>(src->ptr);
        const std::size_t end = std::min(c->request.size(), c->stop_after);
        const std::size_t n = std::min(length, end - c->sent);
        if (n == 0 && c->sent == end && end < c->request.size()) return NGHTTP2_ERR_DEFERRED;
        std::memcpy(buf, c->request.data() + c->sent, n);
        c->sent += n;
        if (c->sent == c->request.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
        return static_cast<ssize_t>(n);
    }

    Session& s_;
    Url url_;
    nghttp2_session* h2_ = nullptr;
    std::map<std::int32_t, std::unique_ptr<Call>> calls_;
};

std::string snippet(const std::string& body) {
    auto t = json_quoted(body.substr(0, 160));
    return body.size() > 160 ? t + "..." : t;
}

// ---- flood ---------------------------------------------------------------------------------------

void flood(const Url& url, int conns, int streams) {
    constexpr std::size_t kBody = (1 << 20) - 1;  // just under the per-request cap
    for (int i = 0; i < conns; ++i) {
        Session s(url, kCurrentVersion);
        H2Client h(s, url);
        for (int k = 0; k < streams; ++k) h.submit("/machine/register", std::string(kBody + 1, 'x'), kBody);
        // Push until nothing more can be sent or the server ends the connection.
        const auto start = std::chrono::steady_clock::now();
        bool open = true;
        std::size_t last = 0;
        int quiet = 0;
        while (open && std::chrono::steady_clock::now() - start < std::chrono::seconds(20)) {
            try {
                open = h.pump();
            } catch (const Unexpected&) {
                break;  // nothing arrived for 10 s: the server neither read more nor closed
            }
            quiet = h.bytes_sent() == last ? quiet + 1 : 0;
            last = h.bytes_sent();
            if (quiet > 50) break;
        }
        std::cout << "connection " << i << ": sent " << h.bytes_sent() << " bytes of unfinished requests; the server "
                  << (open ? "kept the connection open" : "closed the connection") << "\n";
    }
}

// ---- login flood ---------------------------------------------------------------------------------

void login_flood(const Url& url, int n) {
    int urls = 0, refused = 0, other = 0;
    std::string first_refusal;
    for (int i = 0; i < n; ++i) {
        try {
            const auto body = do_register(url, kCurrentVersion, "", "flood" + std::to_string(i));
            if (body.contains("AuthURL") && body["AuthURL"].is_string() && !body["AuthURL"].get<std::string>().empty())
                ++urls;
            else if (body.contains("Error")) {
                ++refused;
                if (first_refusal.empty()) first_refusal = body["Error"].dump();
            } else ++other;
        } catch (const std::exception& e) {
            ++other;
            if (first_refusal.empty()) first_refusal = e.what();
        }
    }
    std::cout << "login-flood: " << urls << " login URLs, " << refused << " refused, " << other << " other"
              << (first_refusal.empty() ? "" : "; first refusal: " + first_refusal) << "\n";
}

// ---- key flood -----------------------------------------------------------------------------------

std::string random_hex(std::size_t n) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (auto b : random_bytes(n / 2)) out += {kHex[b >> 4], kHex[b & 15]};
    return out;
}

// The answer with its digits as N, so "try again in 7 seconds" and "in 3 seconds" count as one kind.
std::string answer_kind(int status, const std::string& body) {
    const auto j = json::parse(body, nullptr, false);
    std::string what = j.is_object() && j.contains("Error")  ? "Error " + j["Error"].dump()
                       : j.is_object() && j.contains("User") ? "registered"
                                                             : "HTTP " + std::to_string(status) + " " + snippet(body);
    std::string out;
    for (char c : what)
        if (c < '0' || c > '9') out += c;
        else if (out.empty() || out.back() != 'N') out += 'N';
    return out;
}

void key_flood(const Url& url, int n, const std::string& key, int pace_ms) {
    const auto t0 = std::chrono::steady_clock::now();
    Session s(url, kCurrentVersion);
    H2Client h(s, url);
    std::map<std::string, int> kinds;
    for (int i = 0; i < n; ++i) {
        const auto body = register_request(kCurrentVersion, key + random_hex(64), "keyflood").dump();
        const auto id = h.submit("/machine/register", body);
        if (!h.wait(id)) {
            ++kinds["connection closed"];
            break;
        }
        const auto& c = h.call(id);
        ++kinds[answer_kind(c.status, c.response)];
        if (pace_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(pace_ms));
    }
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    for (const auto& [k, count] : kinds) std::cout << "key-flood: " << count << " x " << k << "\n";
    std::cout << "key-flood: " << n << " attempts in " << ms << " ms\n";
}

// ---- session -------------------------------------------------------------------------------------

json map_request(const std::string& node_key, const std::string& hostname) {
    return {{"Version", kCurrentVersion},
            {"NodeKey", node_key},
            {"OmitPeers", true},
            {"Stream", false},
            {"Hostinfo", {{"Hostname", hostname}}}};
}

int session(const Url& url, const std::string& auth_key, const std::vector<std::string>& steps) {
    Session s(url, kCurrentVersion);
    H2Client h(s, url);
    auto reg = register_request(kCurrentVersion, auth_key, "abuse");
    const auto node_key = reg["NodeKey"].get<std::string>();
    for (const auto& step : steps) {
        const auto eq = step.find('=');
        const auto verb = step.substr(0, eq);
        const auto arg = eq == std::string::npos ? std::string() : step.substr(eq + 1);
        if (verb == "sleep") {
            std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(std::stod(arg) * 1000)));
            std::cout << step << "\n" << std::flush;
            continue;
        }
        std::string path = "/machine/map", body;
        if (verb == "register" || verb == "register-again") {
            path = "/machine/register";
            body = reg.dump();
        } else if (verb == "map-lite") {
            // Like a real client, later logins carry the Hostinfo it reported last.
            if (!arg.empty()) reg["Hostinfo"]["Hostname"] = arg;
            body = map_request(node_key, reg["Hostinfo"]["Hostname"].get<std::string>()).dump();
        } else if (verb == "map-version-string") {
            auto m = map_request(node_key, "abuse");
            m["Version"] = std::to_string(kCurrentVersion);
            body = m.dump();
        } else {
            std::cerr << "hs-ts2021-abuse: unknown step " << step << "\n";
            return 2;
        }
        const auto t0 = std::chrono::steady_clock::now();
        const auto id = h.submit(path, body);
        if (!h.wait(id)) {
            std::cout << step << " CLOSED: the server closed the connection without answering\n";
            return 1;
        }
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
        const auto& c = h.call(id);
        std::cout << step << " HTTP " << c.status << " " << snippet(c.response) << " (" << ms << " ms)\n" << std::flush;
    }
    return 0;
}

constexpr const char* kUsage =
    "usage: hs-ts2021-abuse flood URL CONNS STREAMS | login-flood URL N | key-flood URL N KEY [MS] |\n"
    "       session URL AUTHKEY STEP...\n";

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() < 3) {
        std::cerr << kUsage;
        return 2;
    }
    if (sodium_init() < 0) return 1;
    alarm(300);  // every command is bounded even if the server trickles
    try {
        const auto url = parse_url(args[1]);
        if (args[0] == "flood" && args.size() == 4) flood(url, std::stoi(args[2]), std::stoi(args[3]));
        else if (args[0] == "login-flood" && args.size() == 3) login_flood(url, std::stoi(args[2]));
        else if (args[0] == "key-flood" && (args.size() == 4 || args.size() == 5))
            key_flood(url, std::stoi(args[2]), args[3], args.size() == 5 ? std::stoi(args[4]) : 0);
        else if (args[0] == "session" && args.size() >= 4)
            return session(url, args[2], std::vector<std::string>(args.begin() + 3, args.end()));
        else {
            std::cerr << kUsage;
            return 2;
        }
    } catch (const std::exception& e) {
        std::cout << args[0] << ": ERROR: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
