#include "tools/hs-control/noise_conn.h"

#include <sodium.h>

#include <spdlog/spdlog.h>

#include "tools/hs-control/server.h"

namespace hs::control {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

constexpr std::size_t kMaxRequestBody = 1 << 20;
// A client that stops reading its stream is dropped rather than buffered without bound.
constexpr std::size_t kMaxQueuedBytes = 32 << 20;

std::string_view view(const std::uint8_t* p, std::size_t n) { return {reinterpret_cast<const char*>(p), n}; }

}  // namespace

struct NoiseConn::Stream {
    std::int32_t id = 0;
    std::string method, path, body;
    bool too_big = false;
    std::deque<std::shared_ptr<const std::string>> out;
    std::size_t out_off = 0;
    bool eof = false;
    bool deferred = false;
    bool responded = false;
    // map streams
    std::int64_t node_id = 0;
    std::unique_ptr<Sink> sink;
    bool attached = false;
    TimePoint last_send{};
    std::chrono::seconds keepalive_after{50};
    // held interactive logins
    bool holding = false;
    std::string auth_id;
    json req;
};

class NoiseConn::Sink final : public MapSink {
public:
    Sink(NoiseConn& c, Stream& s) : c_(c), s_(s) {}
    void push(std::shared_ptr<const std::string> frame) override { c_.queue_data(s_, std::move(frame)); }
    void end() override { c_.finish(s_); }

private:
    NoiseConn& c_;
    Stream& s_;
};

NoiseConn::NoiseConn(Server& server, std::shared_ptr<derp::ByteStream> stream, std::string peer, bool early_payload)
    : server_(server), stream_(std::move(stream)), peer_(std::move(peer)), wakeup_(stream_->get_executor()),
      early_payload_(early_payload) {}

NoiseConn::~NoiseConn() {
    close();
    if (h2_) nghttp2_session_del(h2_);
}

void NoiseConn::close() {
    if (!closed_) {
        closed_ = true;
        stream_->close();
        wakeup_.cancel();
    }
    const auto now = Clock::now();
    for (auto& [id, s] : streams_)
        if (s->attached) {
            s->attached = false;
            server_.tailnet().detach(s->node_id, s->sink.get(), now);
        }
}

void NoiseConn::wake() { wakeup_.cancel(); }

asio::awaitable<bool> NoiseConn::write(asio::const_buffer b) {
    try {
        co_await stream_->write(b);
        co_return true;
    } catch (const std::exception&) {
        co_return false;
    }
}

asio::awaitable<void> NoiseConn::run(std::vector<std::uint8_t> init, std::string leftover) {
    auto self = shared_from_this();
    std::vector<std::uint8_t> out;
    std::vector<std::uint8_t> error_frame;
    bool ok = false;
    try {
        const auto acc = noise_accept(server_.noise_key(), init);
        machine_key_ = key_text(kMachinePrefix, acc.peer_static);
        sealer_ = std::make_unique<NoiseSealer>(acc.tx_key);
        opener_ = std::make_unique<NoiseOpener>(acc.rx_key);
        out.assign(acc.response.begin(), acc.response.end());
        ok = true;
    } catch (const NoiseError& e) {
        spdlog::info("ts2021 handshake from {} failed: {}", peer_, e.what());
        server_.count_handshake_failure();
        if (e.error_frame) error_frame = noise_error_frame(e.what());
    }
    if (!ok) {
        if (!error_frame.empty()) co_await write(asio::buffer(error_frame));
        close();
        co_return;
    }
    spdlog::debug("ts2021 connection from {} as {}", peer_, machine_key_);

    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session_server_new(&h2_, cbs, this);
    nghttp2_session_callbacks_del(cbs);
    const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 250},
                                               {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    nghttp2_submit_settings(h2_, NGHTTP2_FLAG_NONE, settings, 2);

    // The early payload goes first: clients from v1.70 to v1.88 wait for the server's first
    // bytes before sending any request.
    if (early_payload_) {
        std::array<std::uint8_t, 32> chal{};
        randombytes_buf(chal.data(), chal.size());
        PrivateKey challenge;
        std::copy(chal.begin(), chal.end(), challenge.bytes.begin());
        pending_plain_ =
            noise_early_payload(json{{"nodeKeyChallenge", key_text("chalpub:", challenge.public_key().bytes)}}.dump());
    }
    const std::uint8_t* data = nullptr;
    for (ssize_t n; (n = nghttp2_session_mem_send(h2_, &data)) > 0;) pending_plain_.insert(pending_plain_.end(), data, data + n);
    sealer_->seal(pending_plain_, out);
    pending_plain_.clear();
    if (!co_await write(asio::buffer(out))) {
        close();
        co_return;
    }
    server_.add_conn(self);
    asio::co_spawn(stream_->get_executor(), writer(), asio::detached);
    if (!leftover.empty()) {
        std::vector<std::uint8_t> plain;
        try {
            opener_->feed({reinterpret_cast<const std::uint8_t*>(leftover.data()), leftover.size()}, plain);
            if (nghttp2_session_mem_recv(h2_, plain.data(), plain.size()) < 0) close();
        } catch (const NoiseError&) {
            close();
        }
    }
    co_await reader();
    close();
}

asio::awaitable<void> NoiseConn::reader() {
    std::vector<std::uint8_t> buf(32768), plain;
    while (!closed_) {
        std::size_t n = 0;
        try {
            n = co_await stream_->read_some(asio::buffer(buf));
        } catch (const std::exception&) {
            co_return;
        }
        plain.clear();
        try {
            opener_->feed({buf.data(), n}, plain);
        } catch (const NoiseError& e) {
            spdlog::info("ts2021 {} ({}): {}", peer_, machine_key_, e.what());
            co_return;
        }
        if (!plain.empty() && nghttp2_session_mem_recv(h2_, plain.data(), plain.size()) < 0) {
            spdlog::info("ts2021 {}: HTTP/2 protocol error", peer_);
            co_return;
        }
        wake();
        if (!nghttp2_session_want_read(h2_) && !nghttp2_session_want_write(h2_)) co_return;
    }
}

namespace {
constexpr std::size_t kKeepBuffer = 64 * 1024;
}  // namespace

asio::awaitable<void> NoiseConn::writer() {
    auto self = shared_from_this();
    std::vector<std::uint8_t> plain, out;
    while (!closed_) {
        plain.clear();
        const std::uint8_t* data = nullptr;
        ssize_t n;
        while ((n = nghttp2_session_mem_send(h2_, &data)) > 0) {
            plain.insert(plain.end(), data, data + n);
            if (plain.size() > (1 << 20)) break;
        }
        if (n < 0) break;
        if (plain.empty()) {
            wakeup_.expires_at(asio::steady_timer::time_point::max());
            boost::system::error_code ec;
            co_await wakeup_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        out.clear();
        sealer_->seal(plain, out);
        if (!co_await write(asio::buffer(out))) break;
        // A full map is large and rare; thousands of idle streams must not each keep a buffer
        // that size for the rest of their life.
        if (plain.capacity() > kKeepBuffer) {
            std::vector<std::uint8_t>().swap(plain);
            std::vector<std::uint8_t>().swap(out);
        }
    }
    close();
}

void NoiseConn::queue_data(Stream& s, std::shared_ptr<const std::string> data) {
    if (s.eof || closed_) return;
    queued_bytes_ += data->size();
    s.out.push_back(std::move(data));
    s.last_send = Clock::now();
    if (queued_bytes_ > kMaxQueuedBytes) {
        spdlog::warn("ts2021 {}: client is not reading its map stream; closing", peer_);
        close();
        return;
    }
    if (s.deferred) {
        s.deferred = false;
        nghttp2_session_resume_data(h2_, s.id);
    }
    wake();
}

void NoiseConn::finish(Stream& s) {
    s.eof = true;
    if (s.deferred) {
        s.deferred = false;
        nghttp2_session_resume_data(h2_, s.id);
    }
    wake();
}

void NoiseConn::respond(std::int32_t id, int status, std::string body, const char* content_type) {
    const auto it = streams_.find(id);
    if (it == streams_.end()) return;
    auto& s = *it->second;
    s.responded = true;
    const auto status_text = std::to_string(status);
    const auto length = std::to_string(body.size());
    const nghttp2_nv hdrs[] = {
        {(std::uint8_t*)":status", (std::uint8_t*)status_text.data(), 7, status_text.size(), NGHTTP2_NV_FLAG_NONE},
        {(std::uint8_t*)"content-type", (std::uint8_t*)content_type, 12, std::strlen(content_type), NGHTTP2_NV_FLAG_NONE},
        {(std::uint8_t*)"content-length", (std::uint8_t*)length.data(), 14, length.size(), NGHTTP2_NV_FLAG_NONE},
    };
    if (!body.empty()) s.out.push_back(std::make_shared<const std::string>(std::move(body)));
    s.eof = true;
    nghttp2_data_provider prov{};
    prov.read_callback = read_data;
    nghttp2_submit_response(h2_, id, hdrs, 3, &prov);
    wake();
}

void NoiseConn::start_map_stream(Stream& s, const MapReply& r) {
    s.responded = true;
    const nghttp2_nv hdrs[] = {
        {(std::uint8_t*)":status", (std::uint8_t*)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
        {(std::uint8_t*)"content-type", (std::uint8_t*)"application/json", 12, 16, NGHTTP2_NV_FLAG_NONE},
    };
    nghttp2_data_provider prov{};
    prov.read_callback = read_data;
    nghttp2_submit_response(h2_, s.id, hdrs, 2, &prov);
    s.node_id = r.node_id;
    s.keepalive_after = std::chrono::seconds(50 + randombytes_uniform(10));
    queue_data(s, r.first);
    s.sink = std::make_unique<Sink>(*this, s);
    s.attached = true;
    spdlog::debug("ts2021 {}: map stream {} opened for node {}", peer_, s.id, s.node_id);
    server_.tailnet().attach(s.node_id, s.sink.get(), Clock::now());
}

void NoiseConn::dispatch(Stream& s) {
    const auto now = Clock::now();
    auto& tn = server_.tailnet();
    if (s.too_big) return respond(s.id, 413, "request body too large", "text/plain");
    const bool is_register = s.path == "/machine/register";
    const bool is_map = s.path == "/machine/map";
    if (is_register || is_map) {
        if (s.method != "POST") return respond(s.id, 405, "method not allowed", "text/plain");
        const auto req = json::parse(s.body, nullptr, false);
        if (!req.is_object()) return respond(s.id, 400, "request body is not a JSON object", "text/plain");
        if (is_register) {
            auto r = tn.register_node(machine_key_, req, now, peer_);
            if (r.hold) {
                s.holding = true;
                s.auth_id = r.auth_id;
                s.req = req;
                tick(now);
                return;
            }
            return respond(s.id, r.status, r.body.dump());
        }
        auto r = tn.map_request(machine_key_, req, now);
        if (r.status != 200) return respond(s.id, r.status, r.error, "text/plain");
        if (r.lite) return respond(s.id, 200, "");
        if (!r.stream) return respond(s.id, 200, *r.first, "application/octet-stream");
        return start_map_stream(s, r);
    }
    if (s.path == "/machine/update-health") return respond(s.id, 200, "");
    return respond(s.id, 404, "not found", "text/plain");
}

void NoiseConn::tick(TimePoint now) {
    if (closed_) return;
    for (auto& [id, sp] : streams_) {
        auto& s = *sp;
        if (s.holding) {
            auto r = server_.tailnet().poll_auth(s.auth_id, machine_key_, s.req, now);
            if (r) {
                s.holding = false;
                    respond(s.id, r->status, r->body.dump());
            }
        } else if (s.attached && now - s.last_send >= s.keepalive_after) {
            queue_data(s, server_.tailnet().keepalive_frame());
        }
    }
}

int NoiseConn::on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto* c = static_cast<NoiseConn*>(user);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    auto s = std::make_unique<Stream>();
    s->id = frame->hd.stream_id;
    c->streams_[s->id] = std::move(s);
    return 0;
}

int NoiseConn::on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name, std::size_t namelen,
                         const std::uint8_t* value, std::size_t valuelen, std::uint8_t, void* user) {
    auto* c = static_cast<NoiseConn*>(user);
    const auto it = c->streams_.find(frame->hd.stream_id);
    if (it == c->streams_.end()) return 0;
    const auto n = view(name, namelen);
    if (n == ":method") it->second->method = std::string(view(value, valuelen));
    else if (n == ":path") it->second->path = std::string(view(value, valuelen).substr(0, view(value, valuelen).find('?')));
    return 0;
}

int NoiseConn::on_data_chunk(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* data, std::size_t len,
                             void* user) {
    auto* c = static_cast<NoiseConn*>(user);
    const auto it = c->streams_.find(id);
    if (it == c->streams_.end()) return 0;
    auto& s = *it->second;
    if (s.body.size() + len > kMaxRequestBody) s.too_big = true;
    else s.body.append(view(data, len));
    return 0;
}

int NoiseConn::on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto* c = static_cast<NoiseConn*>(user);
    if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        const auto it = c->streams_.find(frame->hd.stream_id);
        if (it != c->streams_.end() && !it->second->responded && !it->second->holding) c->dispatch(*it->second);
    }
    return 0;
}

int NoiseConn::on_stream_close(nghttp2_session*, std::int32_t id, std::uint32_t, void* user) {
    auto* c = static_cast<NoiseConn*>(user);
    const auto it = c->streams_.find(id);
    if (it == c->streams_.end()) return 0;
    auto& s = *it->second;
    for (const auto& d : s.out) c->queued_bytes_ -= std::min(c->queued_bytes_, d->size());
    if (s.node_id) spdlog::debug("ts2021 {}: map stream {} of node {} closed", c->peer_, id, s.node_id);
    if (s.attached) c->server_.tailnet().detach(s.node_id, s.sink.get(), Clock::now());
    c->streams_.erase(it);
    return 0;
}

ssize_t NoiseConn::read_data(nghttp2_session*, std::int32_t id, std::uint8_t* buf, std::size_t length, std::uint32_t* flags,
                             nghttp2_data_source*, void* user) {
    auto* c = static_cast<NoiseConn*>(user);
    const auto it = c->streams_.find(id);
    if (it == c->streams_.end()) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return 0;
    }
    auto& s = *it->second;
    std::size_t copied = 0;
    while (copied < length && !s.out.empty()) {
        const auto& front = *s.out.front();
        const std::size_t take = std::min(length - copied, front.size() - s.out_off);
        std::memcpy(buf + copied, front.data() + s.out_off, take);
        copied += take;
        s.out_off += take;
        if (s.out_off == front.size()) {
            c->queued_bytes_ -= std::min(c->queued_bytes_, front.size());
            s.out.pop_front();
            s.out_off = 0;
        }
    }
    if (s.out.empty() && s.eof) *flags |= NGHTTP2_DATA_FLAG_EOF;
    else if (copied == 0) {
        s.deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return static_cast<ssize_t>(copied);
}

}  // namespace hs::control
