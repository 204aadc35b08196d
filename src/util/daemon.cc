// The daemon skeleton (see daemon.h). Start-up order: listeners and services' open hooks
// (privileged), socket ownership, privilege drop (fatal on failure), services' start hooks,
// accept loops, READY=1. Everything runs on one io_context thread.
#include "util/daemon.h"

#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>

#include "util/listener.h"
#include "util/log.h"
#include "util/privileges.h"

namespace tlsfence {

struct Daemon::Signals {
  explicit Signals(asio::io_context& io) : set(io, SIGTERM, SIGINT, SIGHUP) {}
  asio::signal_set set;
};

Daemon::Daemon(std::string program, std::shared_ptr<const Config> config, Reloader reload)
    : program_(std::move(program)), reloader_(std::move(reload)), config_(std::move(config)) {}

Daemon::~Daemon() = default;

std::shared_ptr<const Config> Daemon::config() const {
  std::lock_guard lock(config_mutex_);
  return config_;
}

void Daemon::add_door(std::string name, std::vector<std::string> listen, StreamHandler handler,
                      ListenOptions options) {
  doors_.push_back(Door{std::move(name), std::move(listen), std::move(handler), options});
}

void Daemon::add_service(Service service) {
  services_.push_back(std::move(service));
}

void Daemon::open_and_drop() {
  auto cfg = config();
  for (std::size_t i = 0; i < doors_.size(); ++i) {
    for (const std::string& text : doors_[i].listen) {
      auto parsed = parse_listen_spec(text);
      if (!parsed.spec) throw ListenError(doors_[i].name + ".listen: \"" + text + "\": " + parsed.error);
      listeners_.emplace_back(std::make_unique<Listener>(io_, *parsed.spec, doors_[i].options), i);
      log::info("listening", {{"door", doors_[i].name}, {"address", to_string(*parsed.spec)}});
    }
  }
  for (Service& s : services_) {
    if (s.open) s.open();
  }
  const std::string& user = cfg->daemon.user;
  if (!user.empty() && ::geteuid() == 0) {
    UserIds ids = lookup_user(user);
    for (auto& [listener, door] : listeners_) listener->chown_to(ids.uid, ids.gid);
  }
  switch (drop_privileges(user)) {
    case DropOutcome::kept:
      log::info("privileges kept", {{"reason", "daemon.user is empty"}, {"uid", ::getuid()}});
      break;
    case DropOutcome::already:
      log::info("running as daemon.user", {{"user", user}, {"uid", ::getuid()}});
      break;
    case DropOutcome::dropped:
      log::info("privileges dropped", {{"user", user}, {"uid", ::getuid()}, {"gid", ::getgid()}});
      break;
  }
}

Task<void> Daemon::accept_loop(Listener& listener, const Door& door, std::size_t index) {
  for (;;) {
    boost::system::error_code ec;
    StreamSocket socket =
        co_await listener.acceptor().async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::operation_aborted || !listener.acceptor().is_open()) co_return;
    if (ec) {
      // EMFILE and friends: back off briefly instead of spinning.
      log::warning("accept failed", {{"door", door.name}, {"error", ec.message()}});
      accept_errors_[index] = ec.message();
      asio::steady_timer pause(io_, std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    accept_errors_[index].clear();
    if (!door.handler) {
      log::info("door not enabled", {{"door", door.name}});
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    std::string name = door.name;
    asio::co_spawn(io_, door.handler(std::move(socket)), [name](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log::error("connection handler failed", {{"door", name}, {"error", ex.what()}});
      } catch (...) {
        log::error("connection handler failed", {{"door", name}, {"error", "unknown exception"}});
      }
    });
  }
}

void Daemon::start_accepting() {
  accept_errors_.assign(listeners_.size(), std::string());
  for (std::size_t i = 0; i < listeners_.size(); ++i) {
    asio::co_spawn(io_, accept_loop(*listeners_[i].first, doors_[listeners_[i].second], i), asio::detached);
  }
}

void Daemon::wait_for_signal() {
  signals_->set.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    if (signo == SIGHUP) {
      reload();
      wait_for_signal();
      return;
    }
    stop(signo == SIGTERM ? "SIGTERM" : "SIGINT");
  });
}

void Daemon::reload() {
  sd_notify(0, "RELOADING=1");
  auto old = config();
  try {
    auto fresh = std::make_shared<const Config>(reloader_());
    if (fresh->socketmap.listen != old->socketmap.listen || fresh->policy.listen != old->policy.listen ||
        fresh->milter.listen != old->milter.listen || fresh->metrics.listen != old->metrics.listen) {
      log::warning("listen addresses change only after a restart");
    }
    if (fresh->daemon.user != old->daemon.user) log::warning("daemon.user changes only after a restart");
    {
      std::lock_guard lock(config_mutex_);
      config_ = fresh;
    }
    log::init(program_, fresh->daemon.log, fresh->daemon.log_level);
    for (Service& s : services_) {
      if (s.reload) s.reload(fresh);
    }
    ++reloads_.ok;
    log::info("configuration reloaded", {{"file", fresh->source_file}});
  } catch (const std::exception& e) {
    ++reloads_.refused;
    log::error("configuration reload refused, keeping the old one", {{"error", e.what()}});
  }
  sd_notify(0, "READY=1");
}

void Daemon::stop(std::string_view why) {
  if (stopping_) return;
  stopping_ = true;
  sd_notify(0, "STOPPING=1");
  log::info("stopping", {{"reason", why}});
  for (auto& [listener, index] : listeners_) listener->close();
  for (auto it = services_.rbegin(); it != services_.rend(); ++it) {
    try {
      if (it->stop) it->stop();
    } catch (const std::exception& e) {
      log::error("service stop failed", {{"service", it->name}, {"error", e.what()}});
    }
  }
  boost::system::error_code ignored;
  if (signals_) signals_->set.cancel(ignored);
  io_.stop();
}

std::vector<std::string> Daemon::door_problems() const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < listeners_.size(); ++i) {
    const auto& [listener, door] = listeners_[i];
    std::string why = listener->problem();
    if (why.empty() && i < accept_errors_.size() && !accept_errors_[i].empty())
      why = "cannot accept: " + accept_errors_[i];
    if (!why.empty())
      out.push_back("door " + doors_[door].name + " not listening on " + to_string(listener->spec()) + ": " +
                    why);
  }
  return out;
}

void Daemon::request_stop() {
  asio::post(io_, [this] { stop("requested"); });
}

int Daemon::run() {
  // Blocked signals are handled by asio's signal_set only; install it before anything else so a
  // SIGTERM during start-up is not lost.
  signals_ = std::make_unique<Signals>(io_);
  try {
    open_and_drop();
    for (Service& s : services_) {
      if (s.start) s.start();
    }
  } catch (const std::exception& e) {
    log::error("fatal start-up error", {{"error", e.what()}});
    listeners_.clear();
    return 1;
  }
  start_accepting();
  wait_for_signal();
  auto cfg = config();
  log::info("started", {{"program", program_},
                        {"config", cfg->source_file.empty() ? "built-in defaults" : cfg->source_file}});
  sd_notify(0, "READY=1");
  io_.run();
  listeners_.clear();
  log::info("stopped", {{"program", program_}});
  return 0;
}

}  // namespace tlsfence
