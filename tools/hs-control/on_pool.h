// Blocking work (a provider's HTTP, an argon2id hash) off hs-control's event loop.
#pragma once

#include <type_traits>

#include "common/net/asio.h"

#include <boost/asio/thread_pool.hpp>

namespace hs::control {

// Runs `f` on `pool` and resumes the caller on its own executor with the result (or its
// exception). Every argument of a co_awaited call is named: GCC 12 destroys temporary
// arguments of such calls twice (see Server::accept_loop).
template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> on_pool(boost::asio::thread_pool& pool, F& f) {
    using R = std::invoke_result_t<F&>;
    auto run = [&f]() -> boost::asio::awaitable<R> { co_return f(); };
    auto executor = pool.get_executor();
    co_return co_await boost::asio::co_spawn(executor, run, boost::asio::use_awaitable);
}

}  // namespace hs::control
