// A small blocking HTTP(S) GET for the few outbound fetches a user configures (DERP map URLs).
// Certificates are verified against the system's CA store.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace hs {

struct FetchError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// An http:// or https:// URL split for a request: host without brackets, port (80 or 443 when
// absent) and the target ("/" when absent). Throws FetchError for other schemes or no host.
struct HttpUrl {
    bool tls = false;
    std::string host, port, target;
};
HttpUrl parse_http_url(const std::string& url);

// Fetches `url` (http:// or https://). Throws FetchError naming the URL and the reason when
// the whole exchange takes longer than `timeout`, the status is not 200, the body exceeds
// `max_bytes`, or anything on the way fails. Call it off the server's event loop.
std::string http_get(const std::string& url, std::chrono::milliseconds timeout, std::size_t max_bytes = 4 << 20);

struct HttpResponse {
    int status = 0;
    std::string body;
};
// POSTs `body` (sent as application/json) to `url` and returns the answer whatever its status,
// so the caller can tell a refusal from an outage. Throws FetchError for transport failures,
// timeouts and bodies over `max_bytes`. Blocking, like http_get.
HttpResponse http_post(const std::string& url, const std::string& body, std::chrono::milliseconds timeout,
                       std::size_t max_bytes = 4 << 10);
// Any method ("GET", "PUT", ...), an optional JSON body and an Authorization header value
// (empty: none); otherwise like http_post. hs-admin --remote calls hs-control's REST API so.
HttpResponse http_request(const std::string& method, const std::string& url, const std::string* body,
                          const std::string& authorization, std::chrono::milliseconds timeout, std::size_t max_bytes);

// POSTs `body` as application/json with these extra header fields (name, value); otherwise
// like http_post. Webhook deliveries send their signature so.
HttpResponse http_post_with_headers(const std::string& url, const std::string& body,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    std::chrono::milliseconds timeout, std::size_t max_bytes = 4 << 10);

// POSTs an application/x-www-form-urlencoded body (an OAuth token request) with an
// Authorization header value (empty: none); otherwise like http_post.
HttpResponse http_post_form(const std::string& url, const std::string& form, const std::string& authorization,
                            std::chrono::milliseconds timeout, std::size_t max_bytes);

}  // namespace hs
