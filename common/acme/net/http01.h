// The HTTP-01 answerer (RFC 8555 §8.3): a plain-HTTP listener that serves
// /.well-known/acme-challenge/<token> from the tokens of running orders and redirects every
// other request to the HTTPS site, as headscale's tls_letsencrypt_listen and derper's port 80 do.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/net/asio.h"

namespace hs::acme {

class Http01Responder {
public:
    // `redirect_base` ("https://host[:port]", no trailing slash) prefixes redirected targets.
    explicit Http01Responder(std::string redirect_base) : redirect_base_(std::move(redirect_base)) {}
    void publish(const std::string& token, const std::string& key_authorization);
    void clear();
    // The answer for a request target: {status, body, Location}.
    struct Answer {
        unsigned status;
        std::string body, location;
    };
    Answer answer(const std::string& target) const;

    // Binds `listen` (named `setting` in errors; throws when it cannot) and serves on `ex`.
    void listen(const boost::asio::any_io_executor& ex, const std::string& listen, const std::string& setting);
    void start();
    void stop();

private:
    std::string redirect_base_;
    mutable std::mutex mu_;
    std::map<std::string, std::string> tokens_;
    std::unique_ptr<boost::asio::ip::tcp::acceptor> acc_;
};

}  // namespace hs::acme
