// tlsfence-rptd — the TLS-RPT sidecar: config, logging, signals, privilege drop, sd_notify on
// the shared Daemon skeleton. Collectors plug in as a Service:
//   - log followers ([tlsrpt] postfix-log / sendmail-log), polled every second on the io thread;
//   - the libtlsrpt-compatible datagram socket ([tlsrpt] socket), bound before the privilege drop;
//   - the daily report job: after each UTC midnight + a random delay (0..3600 s; the environment
//     variable TLSFENCE_RPTD_REPORT_DELAY=SECONDS fixes it, for tests), yesterday's reports are
//     built into the outbox and, with [tlsrpt] deliver = yes, delivered (rptd/delivery.h).
//     Failed rua are retried after 5 min, doubling, for up to 24 h; rua already delivered are
//     skipped. The job blocks the io thread while it runs (followers resume afterwards).
// Every outcome is committed to tlsrpt.db (with the log position, for followers) before the next
// line or datagram is looked at.
#include "tlsfence/asio.h"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <boost/asio/local/datagram_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <variant>

#include "config/load.h"
#include "parse/tlsrpt_datagram.h"
#include "rptd/attribution.h"
#include "rptd/delivery.h"
#include "rptd/follower.h"
#include "tlsrpt/store.h"
#include "util/daemon.h"
#include "util/log.h"

namespace tlsfence {
namespace {

class Collectors {
 public:
  Collectors(asio::io_context& io, std::shared_ptr<const Config> cfg)
      : io_(io), cfg_(std::move(cfg)), timer_(io), report_timer_(io), dgram_(io) {}

  void open() {
    const auto& path = cfg_->tlsrpt.socket;
    if (path.empty()) return;
    ::unlink(path.c_str());
    dgram_.open();
    dgram_.bind(asio::local::datagram_protocol::endpoint(path));
    ::chmod(path.c_str(), 0666);  // any local MTA process may report
    log::info("datagram socket open", {{"path", path}});
  }

  void start() {
    store_ = std::make_unique<tlsrpt::Store>(cfg_->tlsrpt.db);
    attributor_ = std::make_unique<rptd::Attributor>(cfg_->cache.db);
    if (!cfg_->tlsrpt.postfix_log.empty()) {
      followers_.push_back(std::make_unique<rptd::LogFollower>(
          cfg_->tlsrpt.postfix_log, rptd::LogKind::postfix, *store_, *attributor_));
    }
    if (!cfg_->tlsrpt.sendmail_log.empty()) {
      followers_.push_back(std::make_unique<rptd::LogFollower>(
          cfg_->tlsrpt.sendmail_log, rptd::LogKind::sendmail, *store_, *attributor_));
    }
    if (dgram_.is_open()) receive();
    tick();
    schedule_report(next_midnight() + report_delay(), 0);
  }

  void reload(std::shared_ptr<const Config> cfg) { cfg_ = std::move(cfg); }

  void stop() {
    stopped_ = true;
    timer_.cancel();
    report_timer_.cancel();
    boost::system::error_code ec;
    dgram_.close(ec);
  }

 private:
  void tick() {
    for (auto& f : followers_) {
      try {
        f->poll();
      } catch (const std::exception& e) {
        log::error("log follower failed, retrying", {{"source", f->source()}, {"error", e.what()}});
      }
    }
    if (stopped_) return;
    timer_.expires_after(std::chrono::seconds(1));
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec && !stopped_) tick();
    });
  }

  static std::int64_t now_unix() { return static_cast<std::int64_t>(std::time(nullptr)); }
  static std::int64_t next_midnight() { return (tlsrpt::utc_day(now_unix()) + 1) * 86400; }
  static std::int64_t report_delay() {
    if (const char* e = std::getenv("TLSFENCE_RPTD_REPORT_DELAY")) return std::atoll(e);
    std::random_device rd;
    return std::uniform_int_distribution<std::int64_t>(0, 3600)(rd);
  }

  // Runs the report job for day (when - 1 day) at unix time `at`; `attempt` counts retries.
  void schedule_report(std::int64_t at, int attempt) {
    report_timer_.expires_after(std::chrono::seconds(std::max<std::int64_t>(0, at - now_unix())));
    report_timer_.async_wait([this, at, attempt](boost::system::error_code ec) {
      if (ec || stopped_) return;
      const std::int64_t day = tlsrpt::utc_day(at) - 1;
      run_report(day, attempt, at);
    });
  }

  void run_report(std::int64_t day, int attempt, std::int64_t at) {
    std::size_t failed = 0;
    try {
      std::ostringstream out;
      if (cfg_->tlsrpt.deliver) {
        auto r = rptd::deliver_day(*cfg_, *store_, day, out);
        failed = r.failed;
        log::info("daily reports", {{"day", tlsrpt::day_string(day)},
                                    {"reports", std::to_string(r.reports)},
                                    {"delivered", std::to_string(r.delivered)},
                                    {"failed", std::to_string(r.failed)}});
      } else {
        const tlsrpt::ReportMeta meta{cfg_->tlsrpt.organization_name, cfg_->tlsrpt.contact_info,
                                      cfg_->tlsrpt.submitter};
        for (const auto& d : store_->day_aggregates(day)) {
          tlsrpt::write_report(cfg_->tlsrpt.outbox,
                               tlsrpt::build_report(meta, day, d.policy_domain, d.policies));
        }
        log::info("daily reports built (deliver = no)", {{"day", tlsrpt::day_string(day)}});
      }
    } catch (const std::exception& e) {
      log::error("daily report job failed", {{"day", tlsrpt::day_string(day)}, {"error", e.what()}});
      failed = 1;
    }
    const std::int64_t first = (day + 1) * 86400;
    const std::int64_t retry = now_unix() + (std::int64_t{300} << std::min(attempt, 10));
    if (failed > 0 && retry < first + 86400) {
      // Same day again later; `at` keeps naming the job's day.
      report_timer_.expires_after(std::chrono::seconds(retry - now_unix()));
      report_timer_.async_wait([this, day, attempt, at](boost::system::error_code ec) {
        if (!ec && !stopped_) run_report(day, attempt + 1, at);
      });
      return;
    }
    schedule_report(next_midnight() + report_delay(), 0);
  }

  void receive() {
    dgram_.async_receive(asio::buffer(buf_), [this](boost::system::error_code ec, std::size_t n) {
      if (stopped_) return;
      if (!ec)
        handle(std::string_view(buf_.data(), n));
      else
        log::warning("datagram receive failed", {{"error", ec.message()}});
      receive();
    });
  }

  void handle(std::string_view bytes) {
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    try {
      auto r = parse::parse_tlsrpt_datagram(bytes);
      if (!r.datagram) {
        std::string error(parse::to_string(r.error));
        if (!r.detail.empty()) error += ": " + r.detail;
        store_->add_rejected({now, "datagram", error, std::string(bytes.substr(0, 4096))});
        log::info("datagram rejected", {{"error", error}});
        return;
      }
      auto outcomes = tlsrpt::outcomes_from_datagram(*r.datagram, now);
      store_->add(outcomes);
    } catch (const std::exception& e) {
      log::error("datagram not stored", {{"error", e.what()}});
    }
  }

  asio::io_context& io_;
  std::shared_ptr<const Config> cfg_;
  asio::steady_timer timer_;
  asio::steady_timer report_timer_;
  asio::local::datagram_protocol::socket dgram_;
  std::array<char, 256 * 1024> buf_{};  // larger than any valid datagram: oversized ones are seen whole
  std::unique_ptr<tlsrpt::Store> store_;
  std::unique_ptr<rptd::Attributor> attributor_;
  std::vector<std::unique_ptr<rptd::LogFollower>> followers_;
  bool stopped_ = false;
};

}  // namespace
}  // namespace tlsfence

int main(int argc, char** argv) {
  using namespace tlsfence;
  auto started = config::startup(argc, argv, ProgramKind::rptd);
  if (auto* code = std::get_if<int>(&started)) return *code;
  auto& s = std::get<config::Startup>(started);
  log::init("tlsfence-rptd", s.config->daemon.log, s.config->daemon.log_level);

  config::CommandLine cmd = s.command_line;
  Daemon daemon("tlsfence-rptd", s.config, [cmd] { return config::load(cmd, nullptr); });
  auto collectors = std::make_shared<Collectors>(daemon.io(), s.config);
  daemon.add_service(Service{"collectors",
                             [collectors] { collectors->open(); },
                             [collectors] { collectors->start(); },
                             [collectors] { collectors->stop(); },
                             {}});
  return daemon.run();
}
