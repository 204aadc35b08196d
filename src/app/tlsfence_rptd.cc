// tlsfence-rptd — the TLS-RPT sidecar: config, logging, signals, privilege drop, sd_notify on
// the shared Daemon skeleton. Collectors plug in as a Service:
//   - log followers ([tlsrpt] postfix-log / sendmail-log), polled every second on the io thread;
//   - the libtlsrpt-compatible datagram socket ([tlsrpt] socket), bound before the privilege drop;
//   - the report job (rptd/schedule.h): after each UTC midnight + a random delay (0..4 h, drawn
//     per day; the environment variable TLSFENCE_RPTD_REPORT_DELAY=SECONDS fixes it, for tests),
//     yesterday's reports are built into the outbox and, with [tlsrpt] deliver = yes, a delivery
//     to each rua is planned in tlsrpt.db and attempted; failed rua are retried with back-off
//     (1 min doubling, capped at 2 h) for up to 24 h, then given up; every attempt is recorded in
//     tlsrpt.db (`tlsfence report list`), and a restart resumes pending retries from there.
//     The job blocks the io thread while it runs (followers resume afterwards). Only domains with
//     exactly one valid _smtp._tls record get a report (looked up once per day, kept in tlsrpt.db;
//     a temporary lookup failure is retried, rptd/record_gate.h); report mail is DKIM-signed with
//     [tlsrpt] dkim-key (read here at start-up: a bad key is a config error, exit 2).
// Every outcome is committed to tlsrpt.db (with the log position, for followers) before the next
// line or datagram is looked at.
// With [fleet] postgresql, TLS-RPT is the fleet's (rptd/fleet_reports.h): a fleet client (its own
// worker thread) uploads what tlsrpt.db marked every 2 s, asynchronously (the io thread never
// waits on PostgreSQL for it), and the report job builds and delivers for the fleet.
#include "async/asio.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/local/datagram_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <variant>

#include "app/fleet_link.h"
#include "app/metrics_listener.h"
#include "app/rptd_metrics.h"
#include "config/load.h"
#include "parse/tlsrpt_datagram.h"
#include "rptd/attribution.h"
#include "rptd/delivery.h"
#include "rptd/dkim_signer.h"
#include "rptd/fleet_reports.h"
#include "rptd/follower.h"
#include "rptd/schedule.h"
#include "tlsrpt/counters.h"
#include "tlsrpt/store.h"
#include "util/daemon.h"
#include "util/log.h"

namespace tlsfence {
namespace {

class Collectors {
 public:
  Collectors(asio::io_context& io, std::shared_ptr<const Config> cfg,
             std::shared_ptr<const rptd::DkimSigner> signer)
      : io_(io),
        cfg_(std::move(cfg)),
        signer_(std::move(signer)),
        timer_(io),
        report_timer_(io),
        upload_timer_(io),
        dgram_(io) {}

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
    rptd::ScheduleOptions schedule;
    schedule.deliver = cfg_->tlsrpt.deliver;
    if (const char* e = std::getenv("TLSFENCE_RPTD_REPORT_DELAY"))
      schedule.fixed_delay = std::chrono::seconds(std::atoll(e));
    job_ = std::make_unique<rptd::ReportJob>(*store_, clock_, std::random_device{}(), schedule);
    if (!cfg_->fleet.postgresql.empty()) start_fleet();
    log::info("next report build", {{"day", tlsrpt::day_string(job_->pending_day())},
                                    {"at", tlsrpt::rfc3339_utc(job_->build_time())}});
    report_tick();
  }

  void reload(std::shared_ptr<const Config> cfg) {
    const auto& a = cfg_->tlsrpt;
    const auto& b = cfg->tlsrpt;
    if (a.dkim_key != b.dkim_key || a.dkim_selector != b.dkim_selector || a.dkim_domain != b.dkim_domain)
      log::warning("[tlsrpt] dkim-* changed: the key read at start-up stays in use until a restart");
    cfg_ = std::move(cfg);
  }

  void stop() {
    stopped_ = true;
    timer_.cancel();
    report_timer_.cancel();
    upload_timer_.cancel();
    *alive_ = false;
    if (fleet_client_) fleet_client_->stop();
    boost::system::error_code ec;
    dgram_.close(ec);
  }

  // For the metrics listener (io thread).
  std::vector<std::pair<std::string, std::uint64_t>> lines() const {
    std::vector<std::pair<std::string, std::uint64_t>> out;
    for (const auto& f : followers_) {
      const std::string source = f->source();
      out.emplace_back(source.substr(0, source.find(':')), f->stats().lines);
    }
    return out;
  }
  tlsrpt::Store* store() const { return store_.get(); }
  const fleet::FleetClient* fleet_client() const { return fleet_client_.get(); }
  std::optional<rptd::FleetPending> fleet_pending() const {
    return fleet_ ? fleet_->pending() : std::nullopt;
  }
  const std::string& store_error() const { return store_error_; }

 private:
  void tick() {
    for (auto& f : followers_) {
      try {
        // Only a poll that stored something proves tlsrpt.db writable again.
        if (f->poll().outcomes > 0) store_error_.clear();
      } catch (const std::exception& e) {
        store_error_ = e.what();
        log::error("log follower failed, retrying", {{"source", f->source()}, {"error", e.what()}});
      }
    }
    if (stopped_) return;
    timer_.expires_after(std::chrono::seconds(1));
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec && !stopped_) tick();
    });
  }

  void start_fleet() {
    fleet::FleetClient::Options o = fleet_client_options(*cfg_, "tlsfence-rptd");
    o.listen = false;
    fleet_client_ = std::make_unique<fleet::FleetClient>(o, fleet::FleetClient::Notify{});
    fleet_client_->start();
    // The first connection attempt (at most its connect timeout), so that the report job's
    // first round does not find the link still starting and wait a minute.
    fleet_client_->wait_started(o.connect_timeout + std::chrono::milliseconds(500));
    fleet_ = std::make_unique<rptd::FleetReports>(*fleet_client_, *store_, clock_,
                                                  rptd::delivery_options(*cfg_), rptd::fleet_options(o.host));
    job_->set_fleet(fleet_.get());
    log::info("TLS-RPT for the fleet",
              {{"host", o.host}, {"pending", std::to_string(store_->pending_upload_count())}});
    upload_tick();
  }

  // One upload at a time, asynchronously: the marks are cleared once PostgreSQL committed.
  void upload_tick() {
    auto wait = std::chrono::milliseconds(2'000);
    if (!upload_in_flight_ && fleet_client_->connected()) {
      try {
        auto batch = std::make_shared<rptd::FleetReports::Batch>(fleet_->prepare_upload());
        if (batch->rows.size() >= fleet_->options().upload_batch) wait = std::chrono::milliseconds(50);
        std::weak_ptr<bool> alive = alive_;
        upload_in_flight_ = fleet_client_->submit(
            batch->statements, std::chrono::steady_clock::now() + std::chrono::seconds(10),
            [this, alive, batch](fleet::Outcome o) {
              asio::post(io_, [this, alive, batch, o = std::move(o)] {
                if (alive.expired() || !*alive.lock()) return;
                upload_in_flight_ = false;
                if (o.ok) {
                  fleet_->uploaded(*batch);
                  if (!upload_error_.empty()) log::info("fleet upload works again");
                  upload_error_.clear();
                } else if (o.error != upload_error_) {
                  upload_error_ = o.error;  // logged once per new reason; the marks stay in tlsrpt.db
                  log::warning("fleet upload failed, outcomes kept in tlsrpt.db", {{"error", o.error}});
                }
              });
            });
      } catch (const std::exception& e) {
        log::error("fleet upload: reading tlsrpt.db failed", {{"error", e.what()}});
      }
    }
    if (stopped_) return;
    upload_timer_.expires_after(wait);
    upload_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec && !stopped_) upload_tick();
    });
  }

  static std::int64_t now_unix() { return static_cast<std::int64_t>(std::time(nullptr)); }

  // Runs what the report job has due, then sleeps until its next due time (at most a minute at
  // a time, so a changed clock is noticed).
  void report_tick() {
    std::int64_t next = now_unix() + 60;
    try {
      std::ostringstream out;
      rptd::NetworkTransport transport(*cfg_, signer_.get());
      const std::int64_t built_before = job_->pending_day();
      next = job_->run_due(transport, rptd::delivery_options(*cfg_), out);
      if (job_->pending_day() != built_before)
        log::info("daily reports built", {{"day", tlsrpt::day_string(built_before)},
                                          {"next", tlsrpt::rfc3339_utc(job_->build_time())}});
      std::istringstream lines(out.str());
      for (std::string line; std::getline(lines, line);) {
        // the fleet's build waiting (database, lagging hosts, another builder): once per change
        if (line.find("fleet report waits") != std::string::npos ||
            line.find("fleet report being built by") != std::string::npos ||
            line.find("fleet deliveries wait") != std::string::npos) {
          if (line != last_wait_) log::warning("report delivery", {{"result", line}});
          last_wait_ = line;
          continue;
        }
        // a report waiting for (or given up after) a failing record lookup: the operator should look
        if (line.find(" waits: record lookup failed") != std::string::npos ||
            line.find("record lookup failed temporarily since") != std::string::npos)
          log::warning("report delivery", {{"result", line}});
        else
          log::info("report delivery", {{"result", line}});
      }
    } catch (const std::exception& e) {
      log::error("report job failed, retrying in a minute", {{"error", e.what()}});
    }
    if (stopped_) return;
    const std::int64_t wait = std::clamp<std::int64_t>(next - now_unix(), 1, 60);
    report_timer_.expires_after(std::chrono::seconds(wait));
    report_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec && !stopped_) report_tick();
    });
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
      tlsrpt::counters().datagrams_accepted.inc();
      auto outcomes = tlsrpt::outcomes_from_datagram(*r.datagram, now);
      store_->add(outcomes);
      store_error_.clear();
    } catch (const std::exception& e) {
      store_error_ = e.what();
      log::error("datagram not stored", {{"error", e.what()}});
    }
  }

  asio::io_context& io_;
  std::shared_ptr<const Config> cfg_;
  std::shared_ptr<const rptd::DkimSigner> signer_;  // read at start-up; a reload keeps it
  asio::steady_timer timer_;
  asio::steady_timer report_timer_;
  asio::steady_timer upload_timer_;  // [fleet] postgresql: the upload every 2 s
  asio::local::datagram_protocol::socket dgram_;
  std::array<char, 256 * 1024> buf_{};  // larger than any valid datagram: oversized ones are seen whole
  std::unique_ptr<tlsrpt::Store> store_;
  std::unique_ptr<rptd::Attributor> attributor_;
  SystemClock clock_;
  std::unique_ptr<rptd::ReportJob> job_;
  std::unique_ptr<fleet::FleetClient> fleet_client_;  // [fleet] postgresql set
  std::unique_ptr<rptd::FleetReports> fleet_;
  bool upload_in_flight_ = false;
  std::string upload_error_, last_wait_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::vector<std::unique_ptr<rptd::LogFollower>> followers_;
  bool stopped_ = false;
  std::string store_error_;  // the last write to tlsrpt.db failed: why ("" when it worked)
};

}  // namespace
}  // namespace tlsfence

int main(int argc, char** argv) {
  using namespace tlsfence;
  auto started = config::startup(argc, argv, ProgramKind::rptd);
  if (auto* code = std::get_if<int>(&started)) return *code;
  auto& s = std::get<config::Startup>(started);
  log::init("tlsfence-rptd", s.config->daemon.log, s.config->daemon.log_level);
  std::shared_ptr<const rptd::DkimSigner> signer;
  try {
    signer = rptd::make_dkim_signer(*s.config);  // before the privilege drop: the key may be root's
  } catch (const rptd::DkimConfigError& e) {
    std::fprintf(stderr, "tlsfence-rptd: config error: %s\n", e.what());
    return 2;
  }
  if (signer)
    log::info("report mail DKIM-signed", {{"domain", signer->domain()}, {"selector", signer->selector()}});

  config::CommandLine cmd = s.command_line;
  Daemon daemon("tlsfence-rptd", s.config, [cmd] { return config::load(cmd, nullptr); });
  auto collectors = std::make_shared<Collectors>(daemon.io(), s.config, signer);
  daemon.add_service(Service{"collectors",
                             [collectors] { collectors->open(); },
                             [collectors] { collectors->start(); },
                             [collectors] { collectors->stop(); },
                             {}});
  MetricsListener metrics(daemon, "tlsfence-rptd");
  add_rptd_metrics(
      metrics,
      RptdParts{[collectors] { return collectors->lines(); }, [collectors] { return collectors->store(); },
                [collectors] { return collectors->store_error(); }, s.config->tlsrpt.socket,
                [collectors] { return collectors->fleet_client(); },
                [collectors] { return collectors->fleet_pending(); }});
  metrics.install(s.config->metrics.listen);
  return daemon.run();
}
