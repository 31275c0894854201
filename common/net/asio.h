// Include Boost.Asio through here: Boost 1.74's awaitable.hpp uses std::exchange without
// including <utility>, which breaks C++20 coroutine builds with GCC 12.
#pragma once

#include <utility>

#include <boost/asio.hpp>
