#include "tools/hs-control/source_limits.h"

#include <algorithm>

#include <boost/asio/ip/address.hpp>

namespace hs::control {

std::string source_of(const std::string& peer) {
    const auto colon = peer.rfind(':');
    const auto host = colon == std::string::npos ? peer : peer.substr(0, colon);
    boost::system::error_code ec;
    const auto ip = boost::asio::ip::make_address(host, ec);
    if (ec || !ip.is_v6()) return host;
    const auto v6 = ip.to_v6();
    if (v6.is_v4_mapped()) return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
    auto bytes = v6.to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

}  // namespace hs::control
