// Keeps one host's certificate from an ACME CA: loads the cached one, orders a new one when
// there is none or two thirds of its validity have passed, answers the challenge (HTTP-01 on
// its own listener, TLS-ALPN-01 through LiveTls), swaps it into the live TLS context and caches
// it. A failed renewal keeps the certificate in use, logs why and counts it; the first order
// failing with nothing cached is fatal (the caller stops: never plain HTTP instead).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/acme/certs.h"
#include "common/acme/net/http01.h"
#include "common/acme/net/live_tls.h"
#include "common/acme/order.h"
#include "common/net/asio.h"

namespace hs::acme {

struct ManagerSettings {
    std::string hostname;
    std::string directory_url;
    std::string email;
    std::string cache_dir;  // account key, certificate and key, all mode 0600
    ChallengeType challenge = ChallengeType::Http01;
    std::string http_listen;          // HTTP-01 listener ("" none: TLS-ALPN-01 only)
    std::string http_listen_setting;  // names it in errors ("tls_letsencrypt_listen", "--http-port")
    std::string redirect_base;        // where the HTTP listener sends other requests
};

class CertManager {
public:
    CertManager(const boost::asio::any_io_executor& ex, ManagerSettings settings, LiveTls& tls);
    ~CertManager();

    // Makes the cache directory (0700) and proves it writable, loads a usable cached
    // certificate into the TLS context, binds the HTTP-01 listener. Throws std::runtime_error
    // naming the directory or address on failure.
    void prepare();
    // Starts ordering and renewing. `on_fatal` gets the reason when no certificate could be
    // obtained and none was cached.
    void start(std::function<void(const std::string&)> on_fatal);
    void stop();

    // Prometheus families hs_acme_*.
    std::string metrics_text() const;

    std::string cert_path() const;
    std::string key_path() const;
    std::string account_key_path() const;

private:
    boost::asio::awaitable<void> run();
    boost::asio::awaitable<void> obtain();
    boost::asio::awaitable<void> sleep_until(std::chrono::system_clock::time_point t);
    void install(const std::string& chain, const std::string& key_pem, bool from_cache);
    EcKey account_key();
    void publish(const Challenge& c);
    void unpublish();

    boost::asio::any_io_executor ex_;
    ManagerSettings s_;
    LiveTls& tls_;
    Http01Responder http01_;
    std::unique_ptr<boost::asio::steady_timer> timer_;
    std::function<void(const std::string&)> on_fatal_;
    bool stopping_ = false;

    mutable std::mutex mu_;  // guards what metrics_text reads from other threads
    bool have_cert_ = false;
    CertInfo info_;
    std::uint64_t renewals_ok_ = 0, renewals_failed_ = 0;
};

}  // namespace hs::acme
