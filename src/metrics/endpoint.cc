// /metrics, /healthz and 404 (see endpoint.h).
#include "metrics/endpoint.h"

#include <exception>

namespace tlsfence::metrics {

HttpResponse Endpoint::handle(std::string_view method, std::string_view target) const {
  HttpResponse r;
  const std::string_view path = target.substr(0, target.find('?'));
  const bool get = method == "GET" || method == "HEAD";
  try {
    if (get && path == "/metrics") {
      r.content_type = std::string(kContentType);
      r.body = registry_.render();
      return r;
    }
    if (get && path == "/healthz") {
      const std::vector<std::string> problems = health_ ? health_() : std::vector<std::string>{};
      if (problems.empty()) {
        r.body = "ok\n";
        return r;
      }
      r.status = 503;
      for (const std::string& p : problems) r.body += "unhealthy: " + p + "\n";
      return r;
    }
  } catch (const std::exception& e) {
    r.status = 500;
    r.body = std::string("internal error: ") + e.what() + "\n";
    return r;
  }
  r.status = 404;
  r.body = "not found; try /metrics or /healthz\n";
  return r;
}

}  // namespace tlsfence::metrics
