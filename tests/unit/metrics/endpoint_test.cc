// The metrics endpoint's routing and health answers, without HTTP.
#include "metrics/endpoint.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace tlsfence::metrics {
namespace {

Registry one_gauge() {
  Registry r;
  r.add([](Writer& w) {
    w.family("g", Type::gauge, "G.");
    w.sample(std::uint64_t{1});
  });
  return r;
}

TEST(MetricsEndpoint, MetricsAnswersTheExpositionWithItsContentType) {
  const Registry r = one_gauge();
  Endpoint e(r, {});
  for (const char* method : {"GET", "HEAD"}) {
    const HttpResponse res = e.handle(method, "/metrics");
    EXPECT_EQ(res.status, 200);
    EXPECT_EQ(res.content_type, "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_EQ(res.body, "# HELP g G.\n# TYPE g gauge\ng 1\n");
  }
  EXPECT_EQ(e.handle("GET", "/metrics?x=1").status, 200);  // query ignored
}

TEST(MetricsEndpoint, HealthzOkOr503WithEveryReason) {
  const Registry r;
  std::vector<std::string> problems;
  Endpoint e(r, [&problems] { return problems; });
  HttpResponse res = e.handle("GET", "/healthz");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "ok\n");
  problems = {"door socketmap not listening", "cache store unwritable"};
  res = e.handle("GET", "/healthz");
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.body, "unhealthy: door socketmap not listening\nunhealthy: cache store unwritable\n");
}

TEST(MetricsEndpoint, EverythingElseIs404) {
  const Registry r = one_gauge();
  Endpoint e(r, {});
  EXPECT_EQ(e.handle("GET", "/").status, 404);
  EXPECT_EQ(e.handle("GET", "/metrics/").status, 404);
  EXPECT_EQ(e.handle("GET", "/healthz2").status, 404);
  EXPECT_EQ(e.handle("POST", "/metrics").status, 404);
  EXPECT_EQ(e.handle("DELETE", "/healthz").status, 404);
}

TEST(MetricsEndpoint, ThrowingCollectorOrCheckIs500) {
  Registry r;
  r.add([](Writer&) { throw std::runtime_error("store gone"); });
  Endpoint e(r, []() -> std::vector<std::string> { throw std::runtime_error("check failed"); });
  HttpResponse res = e.handle("GET", "/metrics");
  EXPECT_EQ(res.status, 500);
  EXPECT_NE(res.body.find("store gone"), std::string::npos);
  EXPECT_EQ(e.handle("GET", "/healthz").status, 500);
}

}  // namespace
}  // namespace tlsfence::metrics
