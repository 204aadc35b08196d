#pragma once
// What the metrics listener answers, without any HTTP machinery (http_server.h carries it):
//   GET|HEAD /metrics  → 200, the registry's exposition (exposition.h), text format 0.0.4;
//   GET|HEAD /healthz  → 200 "ok\n" while the health check finds no problem, else 503 and one
//                        line per problem ("unhealthy: <reason>");
//   anything else      → 404.
// A query string is ignored. A collector or health check that throws gives 500 and the
// exception's text (the listener keeps going).
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/exposition.h"

namespace tlsfence::metrics {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// The problems that stop the program doing its job now (empty: healthy). Runs on the
// listener's thread at each /healthz request.
using HealthCheck = std::function<std::vector<std::string>()>;

class Endpoint {
 public:
  Endpoint(const Registry& registry, HealthCheck health) : registry_(registry), health_(std::move(health)) {}
  // `method` and `target` as the request line has them. HEAD gets GET's answer (the server
  // sends its headers only).
  HttpResponse handle(std::string_view method, std::string_view target) const;

 private:
  const Registry& registry_;
  HealthCheck health_;
};

}  // namespace tlsfence::metrics
