#pragma once
// The metrics listener of a program ([metrics] listen): a Registry the program fills with its
// collectors, health checks, and the HTTP server (metrics/http_server.h) plugged into the
// Daemon as the door "metrics" (opened before the privilege drop like every door; a listen
// change needs a restart). What every program exports from here: tlsfence_build_info,
// tlsfence_config_reloads_total{result}, tlsfence_metrics_http_requests_total; every program's
// /healthz reports a door that stopped listening (Daemon::door_problems).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "metrics/endpoint.h"
#include "metrics/exposition.h"
#include "util/daemon.h"

namespace tlsfence::metrics {
class HttpServer;
}

namespace tlsfence {

class MetricsListener {
 public:
  using Check = std::function<void(std::vector<std::string>& problems)>;

  MetricsListener(Daemon& daemon, std::string program);
  ~MetricsListener();
  MetricsListener(const MetricsListener&) = delete;
  MetricsListener& operator=(const MetricsListener&) = delete;

  metrics::Registry& registry() { return registry_; }
  // Appends its problems ("" none) at each /healthz. Runs on the io thread.
  void add_health(Check check) { checks_.push_back(std::move(check)); }
  std::vector<std::string> problems() const;
  // Adds the door when `listen` is set (before Daemon::run).
  void install(const std::string& listen);

 private:
  Daemon& daemon_;
  std::string program_;
  metrics::Registry registry_;
  std::vector<Check> checks_;
  metrics::Endpoint endpoint_;
  std::unique_ptr<metrics::HttpServer> server_;
};

}  // namespace tlsfence
