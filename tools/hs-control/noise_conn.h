// One TS2021 connection after the HTTP upgrade: Noise records carrying HTTP/2 (nghttp2, prior
// knowledge), with /machine/register and /machine/map streams answered by the Tailnet. Many
// streams share the connection: the long poll never blocks the lite updates.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nghttp2/nghttp2.h>
#include <boost/beast/core.hpp>
#include <nlohmann/json.hpp>
#include "common/net/asio.h"

#include "common/base/keys.h"
#include "common/control/noise.h"
#include "common/derp/net/conn.h"
#include "tools/hs-control/conn_deadline.h"
#include "tools/hs-control/send_queue.h"
#include "tools/hs-control/source_limits.h"
#include "tools/hs-control/tailnet.h"

namespace hs::control {

class Server;

class NoiseConn : public std::enable_shared_from_this<NoiseConn> {
public:
    // `stream` is the upgraded connection: plain TCP, TLS or WebSocket. The WebSocket variant
    // sends no early payload (the JS client does not read one).
    NoiseConn(Server& server, std::shared_ptr<derp::ByteStream> stream, std::string peer, bool early_payload = true);
    ~NoiseConn();

    // Runs the handshake on the initiation from the upgrade header, then serves until either
    // side closes. `leftover` holds bytes already read past the HTTP request.
    boost::asio::awaitable<void> run(std::vector<std::uint8_t> init, std::string leftover);

    // Called by the server's periodic tick: completes held logins, sends keepalives.
    void tick(TimePoint now);
    void close();

private:
    struct Stream;
    class Sink;

    boost::asio::awaitable<void> reader();
    boost::asio::awaitable<void> writer();
    void wake();
    // Writes all of `b`; false when the connection failed.
    boost::asio::awaitable<bool> write(boost::asio::const_buffer b);
    // dispatch, with every failure turned into an error reply on that stream and a log line:
    // the connection stays usable whatever one request does.
    void dispatch_safely(Stream& s);
    void dispatch(Stream& s);
    // register_node for the request in s.req; on a busy write lock the stream is left to the
    // ticks to try again (retry_register) until kBusyPatience after it arrived, then throws.
    void try_register(Stream& s, TimePoint now);
    void fail_request(Stream& s, int status, const std::string& reply, const std::string& cause);
    // Answers a register request, first counting the peer as authenticated when it succeeded.
    void respond_register(Stream& s, const RegisterReply& r);
    void release_body(Stream& s);
    void detach_safely(Stream& s, TimePoint now);
    // The peer proved it is a node of the tailnet (or finished a login): it no longer counts
    // against the limit of unauthenticated connections from its address.
    void authenticated();
    void respond(std::int32_t id, int status, std::string body, const char* content_type = "application/json");
    void start_map_stream(Stream& s, const MapReply& r);
    void queue_data(Stream& s, FrameParts data, SendQueue::Kind kind);
    // The stream's queued updates were dropped as superseded: queues its current full map.
    // False when the map could not be built.
    bool resync(Stream& s);
    void finish(Stream& s);
    // Closes the connection when it is past a deadline (conn_deadline.h); true when it did.
    bool close_if_past_deadline(TimePoint now);

    static int on_begin_headers(nghttp2_session*, const nghttp2_frame*, void*);
    static int on_header(nghttp2_session*, const nghttp2_frame*, const std::uint8_t*, std::size_t, const std::uint8_t*,
                         std::size_t, std::uint8_t, void*);
    static int on_data_chunk(nghttp2_session*, std::uint8_t, std::int32_t, const std::uint8_t*, std::size_t, void*);
    static int on_frame_recv(nghttp2_session*, const nghttp2_frame*, void*);
    static int on_stream_close(nghttp2_session*, std::int32_t, std::uint32_t, void*);
    static ssize_t read_data(nghttp2_session*, std::int32_t, std::uint8_t*, std::size_t, std::uint32_t*,
                             nghttp2_data_source*, void*);

    Server& server_;
    std::shared_ptr<derp::ByteStream> stream_;
    std::string peer_;
    std::string source_;  // peer_ without the port
    std::string machine_key_;
    std::unique_ptr<NoiseSealer> sealer_;
    std::unique_ptr<NoiseOpener> opener_;
    std::vector<std::uint8_t> pending_plain_;  // early payload waiting for the writer
    std::map<std::int32_t, std::unique_ptr<Stream>> streams_;
    boost::asio::steady_timer wakeup_;
    std::size_t queued_bytes_ = 0;
    std::size_t body_bytes_ = 0;                     // request bodies buffered, all streams
    std::shared_ptr<SourceLimits> unauthenticated_;  // where this connection is counted, until authenticated()
    bool overloaded_ = false;
    bool closed_ = false;
    bool early_payload_ = true;
    ConnActivity activity_;
    // Last, so it goes first: the session's streams point into streams_ and its callbacks at
    // `this`.
    struct H2Delete {
        void operator()(nghttp2_session* s) const { nghttp2_session_del(s); }
    };
    using H2Session = std::unique_ptr<nghttp2_session, H2Delete>;
    H2Session new_h2_session();
    H2Session h2_;
};

}  // namespace hs::control
