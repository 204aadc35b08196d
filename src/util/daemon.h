#pragma once
// The daemon skeleton shared by tlsfenced and tlsfence-rptd: one io_context, the listeners of
// the front doors, SIGTERM/SIGINT (stop), SIGHUP (reload), the privilege drop and sd_notify.
//
// Plugging in a front door (socketmap, policy delegation — anything that serves a stream
// socket): before run(), call
//
//   daemon.add_door("socketmap", config->socketmap.listen,
//                   [&service](StreamSocket s) -> Task<void> { co_await serve_socketmap(std::move(s),
//                   service); });
//
// The daemon opens one listener per spec (as root if started as root), then drops
// privileges, then accepts forever and co_spawns the handler for each connection on
// daemon.io() (one thread). A door without a handler closes each connection ("door not
// enabled"). An exception escaping a handler is logged; the daemon keeps running.
//
// Plugging in something that runs its own sockets or threads (libmilter, the sidecar's
// datagram socket): add_service(Service{...}) with
//   open   — before the drop, while still privileged (e.g. smfi_setconn + smfi_opensocket);
//   start  — after the drop, before READY=1 (e.g. start a thread running smfi_main);
//   stop   — on SIGTERM/SIGINT, on the io thread; return promptly (e.g. smfi_stop + join);
//   reload — after a successful SIGHUP reload, with the new config.
// Any hook may throw std::exception during start-up: the daemon logs it and run() returns 1.
//
// Reload: SIGHUP re-reads the config through the Reloader. A bad config is refused (logged with
// the ConfigError's message, which names the key) and the old one kept. Listen addresses and
// daemon.user take effect only after a restart (a warning says so); everything else — and the
// log settings — at once. Code reads the current config with config() (thread-safe snapshot).
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/generic/stream_protocol.hpp>

#include "async/asio.h"
#include "tlsfence/config.h"
#include "util/listener.h"

namespace tlsfence {

using StreamSocket = asio::generic::stream_protocol::socket;
using StreamHandler = std::function<Task<void>(StreamSocket)>;

struct Service {
  std::string name;
  std::function<void()> open;
  std::function<void()> start;
  std::function<void()> stop;
  std::function<void(std::shared_ptr<const Config>)> reload;
};

class Daemon {
 public:
  // Re-reads the config (same file and command line as at start-up). Throws on a bad config.
  using Reloader = std::function<Config()>;

  Daemon(std::string program, std::shared_ptr<const Config> config, Reloader reload);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  asio::io_context& io() { return io_; }
  std::shared_ptr<const Config> config() const;

  // Before run(). `listen` are listen specs (validated by the config already); `options` sets
  // the unix socket files' mode (default 0660) and the backlog.
  void add_door(std::string name, std::vector<std::string> listen, StreamHandler handler = {},
                ListenOptions options = {});
  void add_service(Service service);

  // Opens, drops privileges, starts, notifies READY=1, serves until SIGTERM/SIGINT or
  // request_stop(). Returns 0 after a clean stop, 1 after a fatal start-up error (logged).
  int run();
  // Stops the loop as SIGTERM would. Thread-safe.
  void request_stop();

  // Health of the front doors, on the io thread: one line per listener that no longer takes
  // connections (closed, unix socket file gone or replaced, the last accept failed).
  std::vector<std::string> door_problems() const;
  struct ReloadStats {
    std::uint64_t ok = 0, refused = 0;
  };
  ReloadStats reload_stats() const { return reloads_; }  // on the io thread

 private:
  struct Door {
    std::string name;
    std::vector<std::string> listen;
    StreamHandler handler;
    ListenOptions options;
  };

  void open_and_drop();
  void start_accepting();
  void wait_for_signal();
  void reload();
  void stop(std::string_view why);
  Task<void> accept_loop(Listener& listener, const Door& door, std::size_t index);

  std::string program_;
  Reloader reloader_;
  asio::io_context io_;
  mutable std::mutex config_mutex_;
  std::shared_ptr<const Config> config_;
  std::vector<Door> doors_;
  std::vector<Service> services_;
  std::vector<std::pair<std::unique_ptr<Listener>, std::size_t>> listeners_;  // listener, door index
  struct Signals;
  std::unique_ptr<Signals> signals_;
  bool stopping_ = false;
  ReloadStats reloads_;
  std::vector<std::string> accept_errors_;  // per listener: the last accept's error, "" when it worked
};

}  // namespace tlsfence
