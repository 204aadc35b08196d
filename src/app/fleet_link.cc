// FleetLink: wiring of the fleet client, the shared policy store and NOTIFY (see fleet_link.h).
#include "app/fleet_link.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <boost/asio/post.hpp>

#include "fleet/schema.h"
#include "util/log.h"

namespace tlsfence {
namespace {

using std::chrono::milliseconds;

std::string system_host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

milliseconds dns_timeout(const Config& c) {
  return milliseconds(std::int64_t{c.dns.timeout_seconds} * 1000);
}

}  // namespace

fleet::FleetClient::Options fleet_client_options(const Config& config, const std::string& program) {
  fleet::FleetClient::Options o;
  o.conninfo = config.fleet.postgresql;
  o.host = config.fleet.host.empty() ? system_host_name() : config.fleet.host;
  o.program = program;
  o.connect_timeout = std::min(dns_timeout(config), milliseconds(5'000));
  return o;
}

FleetLink::FleetLink(asio::io_context& io, const Config& config, const Clock& clock,
                     policy::CachePersistence* local, bool read_only)
    : io_(io) {
  const std::string program =
      program_invocation_short_name != nullptr ? program_invocation_short_name : "tlsfence";
  fleet::FleetClient::Options options = fleet_client_options(config, program);
  options.listen = options.register_host = !read_only;
  host_ = options.host;
  std::weak_ptr<bool> alive = alive_;
  client_ = std::make_unique<fleet::FleetClient>(
      options, [this, alive](const std::string& channel, const std::string& payload) {
        asio::post(io_, [this, alive, channel, payload] {
          if (!alive.expired()) on_notify(channel, payload);
        });
      });
  fleet::PgPolicyStore::Options store_options;
  const milliseconds timeout = dns_timeout(config);
  store_options.query_timeout = std::clamp(timeout / 4, milliseconds(500), milliseconds(2'000));
  store_options.wait_bound = std::min(milliseconds(5'000), timeout / 2);
  store_options.write_timeout = timeout;
  store_options.read_only = read_only;
  store_ = std::make_unique<fleet::PgPolicyStore>(*client_, io.get_executor(), clock, store_options, local);
  client_->start();
  client_->wait_started(options.connect_timeout + milliseconds(500));
}

FleetLink::~FleetLink() {
  *alive_ = false;
  client_->drain(milliseconds(5'000));
  client_->stop();
}

void FleetLink::attach(policy::PolicyCache& cache, policy::PolicyService& service) {
  cache_ = &cache;
  service.set_shared(store_.get());
}

void FleetLink::refreshed(const std::string& domain) {
  if (!client_->connected()) return;
  client_->submit(fleet::refreshed_statements(domain, host_),
                  std::chrono::steady_clock::now() + client_->options().connect_timeout);
}

void FleetLink::on_notify(const std::string& channel, const std::string& payload) {
  if (channel == fleet::kPolicyChannel) {
    store_->on_resolved_elsewhere(payload);
    return;
  }
  if (channel != fleet::kControlChannel || cache_ == nullptr) return;
  const fleet::ControlMessage m = fleet::parse_control(payload);
  if (!m.ok) {
    log::warning("fleet: unknown cache-control message ignored", {{"payload", payload}});
    return;
  }
  if (m.op == "refreshed" && m.host == host_) return;  // this host's own refresh
  const std::size_t before = cache_->size();
  if (m.domain.empty()) {
    cache_->flush();
  } else {
    cache_->flush(m.domain);
  }
  log::info("fleet: cache control", {{"op", m.op},
                                     {"domain", m.domain.empty() ? std::string("*") : m.domain},
                                     {"from", m.host},
                                     {"dropped", before - cache_->size()}});
}

}  // namespace tlsfence
