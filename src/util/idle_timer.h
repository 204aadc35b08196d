#pragma once
// The idle watchdog of a door connection: one timer per connection, re-armed only when it
// fires; reads and writes just move the connection's `deadline`, so the hot path never
// touches the timer queue. When the deadline has passed the socket is closed (the pending
// read then fails) and `timed_out` is set; once `finished` is set the watchdog lets go.
//
// C needs: `timer` (asio::steady_timer), `socket`, `deadline`
// (std::chrono::steady_clock::time_point), `bool finished`, `bool timed_out`.
#include <chrono>
#include <memory>

#include "async/asio.h"

namespace tlsfence {

template <typename C>
void arm_idle_timer(const std::shared_ptr<C>& c) {
  c->timer.expires_at(c->deadline);
  c->timer.async_wait([c](const boost::system::error_code&) {
    if (c->finished) return;
    if (std::chrono::steady_clock::now() >= c->deadline) {
      c->timed_out = true;
      boost::system::error_code ignored;
      c->socket.close(ignored);
      return;
    }
    arm_idle_timer(c);
  });
}

}  // namespace tlsfence
