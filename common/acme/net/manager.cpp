#include "common/acme/net/manager.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "common/acme/net/client.h"
#include "common/base/files.h"
#include "common/base/prometheus.h"
#include "common/net/tls.h"

namespace hs::acme {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::system_clock;
constexpr auto kRequestTimeout = std::chrono::seconds(30);
// Tries of the first order when nothing is cached; each failure is logged with its reason.
constexpr int kFirstTries = 3;

std::string time_text(Clock::time_point t) {
    const std::time_t tt = Clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// A failed renewal is tried again after a quarter of the time left, between 5 s and an hour:
// often enough to recover before expiry, rarely enough not to hammer a CA that is down.
std::chrono::seconds retry_delay(Clock::time_point not_after) {
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(not_after - Clock::now());
    return std::clamp(left / 4, std::chrono::seconds(5), std::chrono::seconds(3600));
}

}  // namespace

CertManager::CertManager(const asio::any_io_executor& ex, ManagerSettings settings, LiveTls& tls)
    : ex_(ex), s_(std::move(settings)), tls_(tls), http01_(s_.redirect_base),
      timer_(std::make_unique<asio::steady_timer>(ex)) {}

CertManager::~CertManager() = default;

std::string CertManager::cert_path() const { return hs::cert_path(s_.cache_dir, s_.hostname, ".crt"); }
std::string CertManager::key_path() const { return hs::cert_path(s_.cache_dir, s_.hostname, ".key"); }
std::string CertManager::account_key_path() const { return s_.cache_dir + "/acme_account.key"; }

void CertManager::prepare() {
    std::error_code ec;
    std::filesystem::create_directories(s_.cache_dir, ec);
    if (ec) throw std::runtime_error(fs_error_text("ACME certificate cache: cannot create", s_.cache_dir, ec.value()));
    ::chmod(s_.cache_dir.c_str(), 0700);
    // Proves the directory writable now, not at the first renewal months later.
    const std::string probe = s_.cache_dir + "/.write-test";
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) throw std::runtime_error(fs_error_text("ACME certificate cache: cannot write in", s_.cache_dir, errno));
    ::close(fd);
    ::unlink(probe.c_str());

    if (std::filesystem::exists(cert_path()) && std::filesystem::exists(key_path())) {
        try {
            check_private_file(key_path());
            const std::string chain = read_file(cert_path(), 1 << 20), key = read_file(key_path(), 1 << 16);
            const CertInfo c = inspect_certificate(chain);
            if (c.not_after <= Clock::now())
                spdlog::warn("ACME: cached certificate {} expired at {}; ordering a new one", cert_path(),
                             time_text(c.not_after));
            else if (std::find(c.dns_names.begin(), c.dns_names.end(), s_.hostname) == c.dns_names.end())
                spdlog::warn("ACME: cached certificate {} is not for {}; ordering a new one", cert_path(), s_.hostname);
            else install(chain, key, true);
        } catch (const std::exception& e) {
            spdlog::warn("ACME: cannot use the cached certificate {}: {}; ordering a new one", cert_path(), e.what());
        }
    }
    if (!s_.http_listen.empty()) http01_.listen(ex_, s_.http_listen, s_.http_listen_setting);
}

void CertManager::start(std::function<void(const std::string&)> on_fatal) {
    on_fatal_ = std::move(on_fatal);
    http01_.start();
    asio::co_spawn(ex_, run(), asio::detached);
}

void CertManager::stop() {
    stopping_ = true;
    http01_.stop();
    timer_->cancel();
}

void CertManager::install(const std::string& chain, const std::string& key_pem, bool from_cache) {
    const CertInfo c = inspect_certificate(chain);
    tls_.set_certificate(chain, key_pem);
    {
        std::lock_guard lk(mu_);
        have_cert_ = true;
        info_ = c;
    }
    spdlog::info("ACME: {} certificate for {} (serial {}, valid until {}, renewal from {})",
                 from_cache ? "using the cached" : "installed a new", s_.hostname, c.serial_hex, time_text(c.not_after),
                 time_text(renewal_time(c)));
}

EcKey CertManager::account_key() {
    const std::string path = account_key_path();
    if (std::filesystem::exists(path)) {
        check_private_file(path);
        return EcKey::from_pem(read_file(path, 1 << 16));
    }
    EcKey key = EcKey::generate();
    write_file_atomic(path, key.private_pem(), 0600, false);
    spdlog::info("ACME: created account key {}", path);
    return key;
}

void CertManager::publish(const Challenge& c) {
    if (c.type == ChallengeType::Http01) {
        http01_.publish(c.token, c.key_authorization);
        return;
    }
    const EcKey k = EcKey::generate();
    tls_.set_challenge(c.hostname, tls_alpn_certificate(k, c.hostname, c.key_authorization), k.private_pem());
}

void CertManager::unpublish() {
    http01_.clear();
    tls_.clear_challenges();
}

asio::awaitable<void> CertManager::obtain() {
    const EcKey account = account_key(), cert_key = EcKey::generate();
    Order order({s_.directory_url, s_.email, {s_.hostname}, s_.challenge}, account, cert_key);
    asio::steady_timer wait(ex_);
    Action a = order.start();
    // Published answers are withdrawn on every way out that resumes here; a frame destroyed
    // with its io_context at exit touches nothing (the manager may be gone by then).
    try {
        while (a.kind != Action::Kind::Done) {
            switch (a.kind) {
                case Action::Kind::Send: a = order.on_response(co_await exchange(a.request, kRequestTimeout)); break;
                case Action::Kind::Publish:
                    publish(a.challenge);
                    spdlog::debug("ACME: answering the {} challenge for {}", challenge_name(a.challenge.type),
                                  a.challenge.hostname);
                    a = order.on_published();
                    break;
                case Action::Kind::Wait:
                    wait.expires_after(a.wait);
                    co_await wait.async_wait(asio::use_awaitable);
                    a = order.on_waited();
                    break;
                default: throw AcmeError(a.error);
            }
        }
    } catch (...) {
        unpublish();
        throw;
    }
    unpublish();
    const std::string key_pem = cert_key.private_pem();
    install(order.certificate_chain(), key_pem, false);
    try {
        write_file_atomic(key_path(), key_pem, 0600, true);
        write_file_atomic(cert_path(), order.certificate_chain(), 0600, true);
    } catch (const std::exception& e) {
        spdlog::error("ACME: the new certificate is in use but could not be cached: {}", e.what());
    }
}

asio::awaitable<void> CertManager::sleep_until(Clock::time_point t) {
    // The steady timer cannot follow wall-clock jumps; waking at least hourly re-checks the date.
    const auto d = std::min<Clock::duration>(t - Clock::now(), std::chrono::hours(1));
    if (d <= Clock::duration::zero()) co_return;
    timer_->expires_after(d);
    boost::system::error_code ec;
    co_await timer_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> CertManager::run() {
    int first_tries = 0;
    while (!stopping_) {
        bool have;
        CertInfo info;
        {
            std::lock_guard lk(mu_);
            have = have_cert_;
            info = info_;
        }
        if (have && Clock::now() < renewal_time(info)) {
            co_await sleep_until(renewal_time(info));
            continue;
        }
        std::string error;
        try {
            spdlog::info("ACME: ordering a certificate for {} from {} ({})", s_.hostname, s_.directory_url,
                         challenge_name(s_.challenge));
            co_await obtain();
            std::lock_guard lk(mu_);
            ++renewals_ok_;
            continue;
        } catch (const std::exception& e) {
            error = e.what();
        }
        if (stopping_) co_return;
        {
            std::lock_guard lk(mu_);
            ++renewals_failed_;
        }
        std::chrono::seconds delay(5);
        if (!have) {
            spdlog::error("ACME: no certificate for {}: {}", s_.hostname, error);
            if (++first_tries >= kFirstTries) {
                on_fatal_("cannot obtain a certificate for " + s_.hostname + " from " + s_.directory_url + ": " +
                          error);
                co_return;
            }
        } else {
            delay = retry_delay(info.not_after);
            spdlog::error(
                "ACME: renewing the certificate for {} failed: {}; keeping the current one (serial {}, valid "
                "until {}); next try in {}s",
                s_.hostname, error, info.serial_hex, time_text(info.not_after), delay.count());
        }
        co_await sleep_until(Clock::now() + delay);
    }
}

std::string CertManager::metrics_text() const {
    std::lock_guard lk(mu_);
    prometheus::Writer w;
    w.gauge(
        "hs_acme_certificate_expiry_timestamp_seconds", "When the certificate in use expires (Unix time; 0: none).",
        have_cert_ ? std::chrono::duration_cast<std::chrono::seconds>(info_.not_after.time_since_epoch()).count() : 0);
    w.family("hs_acme_orders_total", "counter", "ACME certificate orders by outcome.");
    w.sample("hs_acme_orders_total", renewals_ok_, {{"outcome", "ok"}});
    w.sample("hs_acme_orders_total", renewals_failed_, {{"outcome", "failed"}});
    return w.take();
}

}  // namespace hs::acme
