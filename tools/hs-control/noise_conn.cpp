#include "tools/hs-control/noise_conn.h"

#include <new>

#include <sodium.h>

#include <spdlog/spdlog.h>

#include "common/store/db.h"
#include "tools/hs-control/request_check.h"
#include "tools/hs-control/server.h"

namespace hs::control {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

// The largest body a client sends is a register or map request with its Hostinfo: a few KiB.
constexpr std::size_t kMaxRequestBody = 1 << 20;
// Request bytes buffered across all streams of one connection. Each stream is capped above,
// but 250 streams x 1 MiB held open by an unauthenticated peer took 250 MiB per connection.
constexpr std::size_t kMaxConnRequestBytes = 4 << 20;
// Before a connection has shown a node of the tailnet it can only need one register request.
constexpr std::size_t kMaxUnauthenticatedRequestBytes = 256 << 10;
// Request paths are short ("/machine/map"); a 64 KiB header per stream is only a cost.
constexpr std::size_t kMaxPath = 4096;
// How long a registration waits out a busy write lock before it is answered 503. Each try waits
// at most the busy timeout (100 ms) on the event loop, and after one busy try writes pause for a
// second (Tailnet::note_db_failure), so a burst of held registrations costs a few tries each.
constexpr auto kBusyPatience = std::chrono::seconds(10);
// Each stream's queue is bounded (send_queue.h); this is the backstop for a connection whose
// many streams each hold replies the client does not read.
constexpr std::size_t kMaxQueuedBytes = 32 << 20;

std::string_view view(const std::uint8_t* p, std::size_t n) { return {reinterpret_cast<const char*>(p), n}; }

}  // namespace

struct NoiseConn::Stream {
    std::int32_t id = 0;
    std::string method, path, body;
    bool too_big = false;
    SendQueue out;
    bool eof = false;
    bool deferred = false;
    bool responded = false;
    // map streams
    std::int64_t node_id = 0;
    bool zstd = false;
    std::unique_ptr<Sink> sink;
    bool attached = false;
    TimePoint last_send{};
    std::chrono::seconds keepalive_after{50};
    // held interactive logins
    bool holding = false;
    std::string auth_id;
    json req;
    // a registration that found the write lock busy, tried again on ticks until arrived + kBusyPatience
    bool retry_register = false;
    TimePoint arrived{};
};

class NoiseConn::Sink final : public MapSink {
public:
    Sink(NoiseConn& c, Stream& s) : c_(c), s_(s) {}
    void push(std::shared_ptr<const std::string> frame) override {
        c_.queue_data(s_, {std::move(frame)}, SendQueue::Kind::Update);
    }
    void end() override { c_.finish(s_); }

private:
    NoiseConn& c_;
    Stream& s_;
};

NoiseConn::NoiseConn(Server& server, std::shared_ptr<derp::ByteStream> stream, std::string peer, bool early_payload)
    : server_(server), stream_(std::move(stream)), peer_(std::move(peer)), source_(source_of(peer_)),
      wakeup_(stream_->get_executor()), unauthenticated_(server.unauthenticated()), early_payload_(early_payload) {}

NoiseConn::~NoiseConn() { close(); }

NoiseConn::H2Session NoiseConn::new_h2_session() {
    nghttp2_session_callbacks* raw = nullptr;
    if (nghttp2_session_callbacks_new(&raw) != 0) throw std::bad_alloc();
    const std::unique_ptr<nghttp2_session_callbacks, decltype(&nghttp2_session_callbacks_del)> cbs(
        raw, nghttp2_session_callbacks_del);
    nghttp2_session_callbacks_set_on_begin_headers_callback(raw, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(raw, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(raw, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(raw, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(raw, on_stream_close);
    nghttp2_session* session = nullptr;
    if (nghttp2_session_server_new(&session, raw, this) != 0) throw std::bad_alloc();
    return H2Session(session);
}

void NoiseConn::authenticated() {
    if (unauthenticated_) {
        unauthenticated_->release(source_);
        unauthenticated_.reset();
    }
}

void NoiseConn::close() {
    if (!closed_) {
        closed_ = true;
        stream_->close();
        wakeup_.cancel();
    }
    authenticated();  // the slot for unauthenticated connections is free again either way
    const auto now = Clock::now();
    for (auto& [id, s] : streams_)
        if (s->attached) {
            s->attached = false;
            detach_safely(*s, now);
        }
}

void NoiseConn::detach_safely(Stream& s, TimePoint now) {
    // Runs from destructors and nghttp2 callbacks, where an exception must not pass.
    try {
        server_.tailnet().detach(s.node_id, s.sink.get(), now);
    } catch (const std::exception& e) {
        spdlog::error("ts2021 {}: ending the map stream of node {}: {}", peer_, s.node_id, e.what());
    }
}

void NoiseConn::wake() { wakeup_.cancel(); }

asio::awaitable<bool> NoiseConn::write(asio::const_buffer b) {
    try {
        co_await stream_->write(b);
        co_return true;
    } catch (const std::exception& e) {
        // A client that vanished or reset its connection: it reconnects, but the reason for a
        // burst of these belongs in the log (issue 19 saw thousands of streams end unexplained).
        if (!closed_ && server_.log_limit().allow("write failed"))
            spdlog::info("ts2021 {} ({}): sending failed, closing: {}", peer_, machine_key_, e.what());
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

    h2_ = new_h2_session();
    const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 250},
                                               {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    nghttp2_submit_settings(h2_.get(), NGHTTP2_FLAG_NONE, settings, 2);

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
    for (ssize_t n; (n = nghttp2_session_mem_send(h2_.get(), &data)) > 0;)
        pending_plain_.insert(pending_plain_.end(), data, data + n);
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
            if (nghttp2_session_mem_recv(h2_.get(), plain.data(), plain.size()) < 0) close();
        } catch (const NoiseError&) {
            close();
        }
    }
    co_await reader();
    close();
}

asio::awaitable<void> NoiseConn::reader() {
    // Noise records carry at most 4 KiB of plaintext; a few of them per read is plenty, and the
    // buffer lives as long as the connection.
    std::vector<std::uint8_t> buf(8192), plain;
    while (!closed_) {
        std::size_t n = 0;
        try {
            n = co_await stream_->read_some(asio::buffer(buf));
        } catch (const std::exception&) {
            co_return;
        }
        activity_.heard = Clock::now();
        plain.clear();
        try {
            opener_->feed({buf.data(), n}, plain);
        } catch (const NoiseError& e) {
            spdlog::info("ts2021 {} ({}): {}", peer_, machine_key_, e.what());
            co_return;
        }
        if (!plain.empty() && nghttp2_session_mem_recv(h2_.get(), plain.data(), plain.size()) < 0) {
            if (!overloaded_) spdlog::info("ts2021 {}: HTTP/2 protocol error", peer_);
            co_return;
        }
        wake();
        if (!nghttp2_session_want_read(h2_.get()) && !nghttp2_session_want_write(h2_.get())) co_return;
    }
}

namespace {
// What one write seals and sends at least when there is that much: a full map of a large
// tailnet goes out in several. Each connection waiting on its socket holds one batch, so this
// is per-connection memory in a restart: 2,000 connections held 2 x 256 KiB each before
// (plaintext and ciphertext; storm peak RSS 740 MB). 16 KiB is still one syscall per 16 KiB.
constexpr std::size_t kWriteBatch = 16 * 1024;
// One batch and what may pass it: nghttp2 hands out at most a 16 KiB DATA frame and its 9-byte
// header at a time, sealed in records of 4,077 bytes that each add 19.
constexpr std::size_t kBatchCapacity = (kWriteBatch + 16384 + 9) * 4096 / 4077 + 2 * 4096;
// An idle connection keeps no more writer buffer than this: tens of thousands of them wait on
// their keepalive at any time (issue 19 measured RSS per connection growing with the tailnet).
constexpr std::size_t kKeepBuffer = 4 * 1024;
}  // namespace

asio::awaitable<void> NoiseConn::writer() {
    auto self = shared_from_this();
    std::vector<std::uint8_t> out;
    while (!closed_) {
        // nghttp2's frames are sealed as they come, not gathered first: a connection waiting
        // on a slow socket holds one batch of ciphertext and no plaintext copy.
        out.clear();
        out.reserve(kBatchCapacity);  // once, not grown by doubling past what a batch needs
        const std::uint8_t* data = nullptr;
        ssize_t n = 0;
        while (out.size() < kWriteBatch && (n = nghttp2_session_mem_send(h2_.get(), &data)) > 0)
            sealer_->append({data, static_cast<std::size_t>(n)}, out);
        if (n < 0) break;
        sealer_->flush(out);
        if (out.empty()) {
            if (out.capacity() > kKeepBuffer) std::vector<std::uint8_t>().swap(out);
            wakeup_.expires_at(asio::steady_timer::time_point::max());
            boost::system::error_code ec;
            co_await wakeup_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        if (!co_await write(asio::buffer(out))) break;
    }
    close();
}

void NoiseConn::queue_data(Stream& s, FrameParts data, SendQueue::Kind kind) {
    if (s.eof || closed_) return;
    const auto before = s.out.bytes();
    const bool was_stale = s.out.stale();
    s.out.push(std::move(data), kind);
    queued_bytes_ = queued_bytes_ - before + s.out.bytes();
    s.last_send = Clock::now();
    if (!was_stale && s.out.stale() && server_.log_limit().allow("slow reader"))
        spdlog::info(
            "ts2021 {} ({}): client reads its map stream slower than updates come; {} queued updates "
            "replaced by a full map",
            peer_, machine_key_, s.out.dropped());
    if (queued_bytes_ > kMaxQueuedBytes) {
        if (server_.log_limit().allow("not reading"))
            spdlog::warn("ts2021 {} ({}): client is not reading its map stream; closing", peer_, machine_key_);
        close();
        return;
    }
    if (s.deferred) {
        s.deferred = false;
        nghttp2_session_resume_data(h2_.get(), s.id);
    }
    wake();
}

bool NoiseConn::resync(Stream& s) {
    // Inside nghttp2's read callback: the map goes straight into the queue being read, with no
    // resume or wake needed.
    FrameParts map;
    try {
        map = server_.tailnet().current_map(s.node_id, s.zstd, Clock::now());
    } catch (const std::exception& e) {
        spdlog::error("ts2021 {} ({}): building the full map of node {}: {}", peer_, machine_key_, s.node_id, e.what());
        return false;
    }
    const auto before = s.out.bytes();
    s.out.push(std::move(map), SendQueue::Kind::Full);
    queued_bytes_ = queued_bytes_ - before + s.out.bytes();
    return true;
}

void NoiseConn::finish(Stream& s) {
    s.eof = true;
    if (s.deferred) {
        s.deferred = false;
        nghttp2_session_resume_data(h2_.get(), s.id);
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
        {(std::uint8_t*)"content-type", (std::uint8_t*)content_type, 12, std::strlen(content_type),
         NGHTTP2_NV_FLAG_NONE},
        {(std::uint8_t*)"content-length", (std::uint8_t*)length.data(), 14, length.size(), NGHTTP2_NV_FLAG_NONE},
    };
    if (!body.empty()) s.out.push({std::make_shared<const std::string>(std::move(body))}, SendQueue::Kind::Full);
    s.eof = true;
    nghttp2_data_provider prov{};
    prov.read_callback = read_data;
    nghttp2_submit_response(h2_.get(), id, hdrs, 3, &prov);
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
    nghttp2_submit_response(h2_.get(), s.id, hdrs, 2, &prov);
    s.node_id = r.node_id;
    s.zstd = r.zstd;
    s.keepalive_after = std::chrono::seconds(50 + randombytes_uniform(10));
    queue_data(s, r.first, SendQueue::Kind::Full);
    // An unknown node's "log in again" map stays open, unattached, until the client ends it (at
    // its next login) or the connection's idle deadline does.
    if (!r.node_id) return;
    s.sink = std::make_unique<Sink>(*this, s);
    s.attached = true;
    spdlog::debug("ts2021 {}: map stream {} opened for node {}", peer_, s.id, s.node_id);
    server_.tailnet().attach(s.node_id, s.sink.get(), Clock::now());
}

void NoiseConn::release_body(Stream& s) {
    body_bytes_ -= std::min(body_bytes_, s.body.size());
    std::string().swap(s.body);
}

void NoiseConn::dispatch_safely(Stream& s) {
    try {
        if (s.retry_register) try_register(s, Clock::now());
        else dispatch(s);
    } catch (const DbError& e) {
        server_.tailnet().note_db_failure(Clock::now(), e);
        fail_request(s, 503, "the server could not use its database; try again", e.what());
    } catch (const nlohmann::json::exception& e) {
        fail_request(s, 400, std::string("malformed request: ") + e.what(), e.what());
    } catch (const std::exception& e) {
        fail_request(s, 500, "internal server error; try again", e.what());
    }
}

void NoiseConn::fail_request(Stream& s, int status, const std::string& reply, const std::string& cause) {
    server_.count_request_failure(status);
    if (server_.log_limit().allow("request failure"))
        spdlog::warn("ts2021 {} ({}): {} {} answered {}: {}", peer_, machine_key_, s.method, s.path, status, cause);
    s.holding = false;
    if (!s.responded) respond(s.id, status, reply + "\n", "text/plain");
}

void NoiseConn::respond_register(Stream& s, const RegisterReply& r) {
    // A registration that went through proves the peer holds a node of the tailnet (or an
    // approved login); one refused with an Error proves nothing.
    if (r.status == 200 && !r.body.contains("Error")) authenticated();
    respond(s.id, r.status, r.body.dump());
}

void NoiseConn::try_register(Stream& s, TimePoint now) {
    s.retry_register = false;
    RegisterReply r;
    try {
        r = server_.tailnet().register_node(machine_key_, s.req, now, peer_);
    } catch (const DbBusy& e) {
        // Contention, not a fault: other instances on the same database, or hs-admin, held the
        // write lock. The client waits a few ticks instead of getting an error for it.
        if (now - s.arrived >= kBusyPatience) throw;
        server_.tailnet().note_db_failure(now, e);
        s.retry_register = true;
        return;
    }
    if (r.hold) {
        s.holding = true;  // the next tick polls the login
        s.auth_id = r.auth_id;
        return;
    }
    respond_register(s, r);
}

void NoiseConn::dispatch(Stream& s) {
    const auto now = Clock::now();
    activity_.requested = true;
    auto& tn = server_.tailnet();
    if (s.too_big) return respond(s.id, 413, "request body too large", "text/plain");
    if (s.path.size() > kMaxPath) return respond(s.id, 414, "request path too long", "text/plain");
    const bool is_register = s.path == "/machine/register";
    const bool is_map = s.path == "/machine/map";
    if (is_register || is_map) {
        if (s.method != "POST") return respond(s.id, 405, "method not allowed", "text/plain");
        auto req = json::parse(s.body, nullptr, false);
        release_body(s);
        if (const auto problem = normalize_request(req)) return respond(s.id, 400, *problem, "text/plain");
        if (is_register) {
            s.req = std::move(req);
            s.arrived = now;
            try_register(s, now);
            if (s.holding) tick(now);  // a login finished meanwhile answers at once
            return;
        }
        auto r = tn.map_request(machine_key_, req, now);
        if (r.status != 200) return respond(s.id, r.status, r.error, "text/plain");
        if (r.node_id) authenticated();  // 0: a node key no node has (relogin.h) proves nothing
        if (r.lite) return respond(s.id, 200, "");
        if (!r.stream) return respond(s.id, 200, r.first_bytes(), "application/octet-stream");
        return start_map_stream(s, r);
    }
    if (s.path == "/machine/update-health") return respond(s.id, 200, "");
    return respond(s.id, 404, "not found", "text/plain");
}

void NoiseConn::tick(TimePoint now) {
    if (closed_ || close_if_past_deadline(now)) return;
    for (auto& [id, sp] : streams_) {
        auto& s = *sp;
        if (s.retry_register) {  // set only while the stream has no answer (try_register)
            dispatch_safely(s);
        } else if (s.holding) {
            std::optional<RegisterReply> r;
            try {
                r = server_.tailnet().poll_auth(s.auth_id, machine_key_, s.req, now, peer_);
            } catch (const DbError& e) {
                continue;  // a busy or full file: the login stays held and is tried on the next tick
            } catch (const std::exception& e) {
                fail_request(s, 500, "internal server error; try again", e.what());
                continue;
            }
            if (r) {
                s.holding = false;
                respond_register(s, *r);
            }
        } else if (s.attached && now - s.last_send >= s.keepalive_after) {
            queue_data(s, {server_.tailnet().keepalive_frame()}, SendQueue::Kind::Update);
        }
    }
}

bool NoiseConn::close_if_past_deadline(TimePoint now) {
    const bool long_poll = std::any_of(streams_.begin(), streams_.end(), [](const auto& e) {
        return e.second->attached || e.second->holding || e.second->retry_register;
    });
    const auto d = activity_.check(now, long_poll, ts2021_limits());
    if (d == Deadline::None) return false;
    server_.deadline_closes().note(d, peer_, machine_key_);
    close();
    return true;
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
    const auto v = view(value, valuelen);
    if (n == ":method") it->second->method = std::string(v.substr(0, 16));
    // One byte past the limit is kept so that dispatch can tell an overlong path from a long one.
    else if (n == ":path") it->second->path = std::string(v.substr(0, std::min(v.find('?'), kMaxPath + 1)));
    return 0;
}

int NoiseConn::on_data_chunk(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* data, std::size_t len,
                             void* user) {
    auto* c = static_cast<NoiseConn*>(user);
    const auto it = c->streams_.find(id);
    if (it == c->streams_.end()) return 0;
    auto& s = *it->second;
    if (s.too_big || s.responded) return 0;
    if (s.body.size() + len > kMaxRequestBody) {
        // Answered now, not at the end of the stream: a peer that never ends it holds nothing.
        s.too_big = true;
        c->release_body(s);
        c->server_.count_refusal(Server::Refusal::StreamBytes);
        c->respond(id, 413, "request body too large", "text/plain");
        return 0;
    }
    s.body.append(view(data, len));
    c->body_bytes_ += len;
    const auto limit = c->unauthenticated_ ? kMaxUnauthenticatedRequestBytes : kMaxConnRequestBytes;
    if (c->body_bytes_ > limit) {
        c->overloaded_ = true;
        c->server_.count_refusal(Server::Refusal::ConnectionBytes);
        if (c->server_.log_limit().allow("request bytes"))
            spdlog::warn("ts2021 {} ({}): more than {} bytes of unfinished requests on one connection; closing it",
                         c->peer_, c->machine_key_, limit);
        return NGHTTP2_ERR_CALLBACK_FAILURE;  // nghttp2_session_mem_recv fails and the reader closes
    }
    return 0;
}

int NoiseConn::on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    auto* c = static_cast<NoiseConn*>(user);
    if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        const auto it = c->streams_.find(frame->hd.stream_id);
        if (it != c->streams_.end() && !it->second->responded && !it->second->holding) c->dispatch_safely(*it->second);
    }
    return 0;
}

int NoiseConn::on_stream_close(nghttp2_session*, std::int32_t id, std::uint32_t, void* user) {
    auto* c = static_cast<NoiseConn*>(user);
    const auto it = c->streams_.find(id);
    if (it == c->streams_.end()) return 0;
    auto& s = *it->second;
    c->release_body(s);
    c->queued_bytes_ -= std::min(c->queued_bytes_, s.out.bytes());
    if (s.node_id) spdlog::debug("ts2021 {}: map stream {} of node {} closed", c->peer_, id, s.node_id);
    if (s.attached) c->detach_safely(s, Clock::now());
    c->streams_.erase(it);
    return 0;
}

ssize_t NoiseConn::read_data(nghttp2_session*, std::int32_t id, std::uint8_t* buf, std::size_t length,
                             std::uint32_t* flags, nghttp2_data_source*, void* user) {
    auto* c = static_cast<NoiseConn*>(user);
    const auto it = c->streams_.find(id);
    if (it == c->streams_.end()) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return 0;
    }
    auto& s = *it->second;
    // Without its fresh map the stream has lost updates: it is reset, and the client's next
    // map request starts from a full map.
    if (s.attached && s.out.take_resync() && !c->resync(s)) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    const std::size_t copied = s.out.read(buf, length);
    c->queued_bytes_ -= std::min(c->queued_bytes_, copied);
    if (s.out.empty() && s.eof) *flags |= NGHTTP2_DATA_FLAG_EOF;
    else if (copied == 0) {
        s.deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return static_cast<ssize_t>(copied);
}

}  // namespace hs::control
