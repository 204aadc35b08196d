#pragma once
// The one way project code includes Boost.Asio.
// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>; g++ 12 then
// fails on C++20 coroutines. Including <utility> first fixes it for every user.
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tlsfence {
namespace asio = boost::asio;
template <typename T>
using Task = asio::awaitable<T>;
}  // namespace tlsfence
