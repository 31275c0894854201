// The plain-text HTTP reply every handler builds (errors, probes, /metrics bodies): one place
// sets the status, Content-Type, body and Content-Length.
#pragma once

#include <string>

#include <boost/beast/http.hpp>

namespace hs {

using TextResponse = boost::beast::http::response<boost::beast::http::string_body>;

// `version` is the request's (11 for HTTP/1.1); keep-alive is left to the caller.
TextResponse text_response(boost::beast::http::status status, std::string body, unsigned version = 11,
                           const char* type = "text/plain; charset=utf-8");

}  // namespace hs
