// The metrics listener (see metrics_listener.h).
#include "app/metrics_listener.h"

#include "metrics/http_server.h"
#include "tlsfence/version.h"

namespace tlsfence {

MetricsListener::MetricsListener(Daemon& daemon, std::string program)
    : daemon_(daemon), program_(std::move(program)), endpoint_(registry_, [this] { return problems(); }) {
  registry_.add([this](metrics::Writer& w) {
    w.family("tlsfence_build_info", metrics::Type::gauge, "Always 1: the version and program serving this.");
    w.sample({{"version", TLSFENCE_VERSION}, {"program", program_}}, std::uint64_t{1});
    const Daemon::ReloadStats reloads = daemon_.reload_stats();
    w.family("tlsfence_config_reloads_total", metrics::Type::counter,
             "Configuration reloads (SIGHUP): applied (ok) or refused (bad config, the old one kept).");
    w.sample({{"result", "ok"}}, reloads.ok);
    w.sample({{"result", "refused"}}, reloads.refused);
    w.family("tlsfence_healthy", metrics::Type::gauge, "1 while /healthz answers 200, else 0.");
    w.sample(std::uint64_t{problems().empty() ? 1u : 0u});
  });
  add_health([this](std::vector<std::string>& out) {
    for (std::string& p : daemon_.door_problems()) out.push_back(std::move(p));
  });
}

MetricsListener::~MetricsListener() = default;

std::vector<std::string> MetricsListener::problems() const {
  std::vector<std::string> out;
  for (const Check& c : checks_) c(out);
  return out;
}

void MetricsListener::install(const std::string& listen) {
  if (listen.empty()) return;
  server_ = std::make_unique<metrics::HttpServer>(endpoint_);
  registry_.add([this](metrics::Writer& w) {
    const metrics::HttpStats s = server_->stats();
    w.family("tlsfence_metrics_http_requests_total", metrics::Type::counter,
             "Requests to this metrics listener: answered, or refused as malformed (400).");
    w.sample({{"result", "answered"}}, s.requests - s.bad_requests);
    w.sample({{"result", "bad_request"}}, s.bad_requests);
  });
  daemon_.add_door("metrics", {listen}, [server = server_.get()](StreamSocket socket) {
    return server->serve(std::move(socket));
  });
}

}  // namespace tlsfence
