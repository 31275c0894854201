#include "common/net/http_text.h"

namespace hs {

TextResponse text_response(boost::beast::http::status status, std::string body, unsigned version, const char* type) {
    TextResponse r{status, version};
    r.set(boost::beast::http::field::content_type, type);
    r.body() = std::move(body);
    r.prepare_payload();
    return r;
}

}  // namespace hs
