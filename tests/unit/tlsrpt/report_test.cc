// RFC 8460 report JSON, gzip, file name, outbox write and §5.3 mail.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>

#include "tlsrpt/report.h"

namespace tlsfence::tlsrpt {
namespace {

const ReportMeta meta{"Sender Org", "mailto:tlsrpt@sender.example", "mail.sender.example"};
const std::int64_t day = 20779;  // 2026-11-22

std::vector<PolicyAggregate> sample() {
  PolicyAggregate sts;
  sts.policy =
      ReportPolicy{TlsrptPolicyType::sts,
                   {"version: STSv1", "mode: testing", "mx: *.mail.company-y.example", "max_age: 86400"},
                   "company-y.example",
                   {"*.mail.company-y.example"}};
  sts.successful_sessions = 5326;
  sts.failed_sessions = 303;
  FailureDetail f;
  f.result = TlsrptResult::certificate_expired;
  f.sending_mta_ip = "2001:db8:abcd:0012::1";
  f.receiving_mx_hostname = "mx1.mail.company-y.example";
  f.receiving_ip = "203.0.113.56";
  f.failed_session_count = 100;
  sts.failures.push_back(f);
  FailureDetail g;
  g.result = TlsrptResult::starttls_not_supported;
  g.receiving_mx_hostname = "mx2.mail.company-y.example";
  g.receiving_mx_helo = "mx2.mail.company-y.example ESMTP";
  g.receiving_ip = "203.0.113.57";
  g.failed_session_count = 203;
  g.additional_information =
      "https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported";
  g.failure_reason_code = "TLS is required, but was not offered";
  sts.failures.push_back(g);
  PolicyAggregate none;
  none.policy = ReportPolicy{TlsrptPolicyType::no_policy_found, {}, "company-y.example", {}};
  none.successful_sessions = 7;
  return {sts, none};
}

TEST(Report, JsonFieldByField) {
  auto r = build_report(meta, day, "company-y.example", sample());
  auto j = nlohmann::json::parse(r.json);
  EXPECT_EQ(j["organization-name"], "Sender Org");
  EXPECT_EQ(j["date-range"]["start-datetime"], "2026-11-22T00:00:00Z");
  EXPECT_EQ(j["date-range"]["end-datetime"], "2026-11-22T23:59:59Z");
  EXPECT_EQ(j["contact-info"], "mailto:tlsrpt@sender.example");
  EXPECT_EQ(j["report-id"], "2026-11-22_company-y.example@mail.sender.example");
  EXPECT_EQ(r.report_id, j["report-id"]);
  ASSERT_EQ(j["policies"].size(), 2u);
  const auto& p = j["policies"][0];
  EXPECT_EQ(p["policy"]["policy-type"], "sts");
  EXPECT_EQ(p["policy"]["policy-string"].size(), 4u);
  EXPECT_EQ(p["policy"]["policy-string"][1], "mode: testing");
  EXPECT_EQ(p["policy"]["policy-domain"], "company-y.example");
  ASSERT_TRUE(p["policy"]["mx-host"].is_array());
  EXPECT_EQ(p["policy"]["mx-host"][0], "*.mail.company-y.example");
  EXPECT_EQ(p["summary"]["total-successful-session-count"], 5326);
  EXPECT_EQ(p["summary"]["total-failure-session-count"], 303);
  ASSERT_EQ(p["failure-details"].size(), 2u);
  const auto& f0 = p["failure-details"][0];
  EXPECT_EQ(f0["result-type"], "certificate-expired");
  EXPECT_EQ(f0["sending-mta-ip"], "2001:db8:abcd:0012::1");
  EXPECT_EQ(f0["receiving-mx-hostname"], "mx1.mail.company-y.example");
  EXPECT_EQ(f0["receiving-ip"], "203.0.113.56");
  EXPECT_EQ(f0["failed-session-count"], 100);
  EXPECT_FALSE(f0.contains("additional-information"));
  EXPECT_FALSE(f0.contains("failure-reason-code"));
  const auto& f1 = p["failure-details"][1];
  EXPECT_EQ(f1["result-type"], "starttls-not-supported");
  EXPECT_FALSE(f1.contains("sending-mta-ip"));
  EXPECT_EQ(f1["receiving-mx-helo"], "mx2.mail.company-y.example ESMTP");
  EXPECT_EQ(f1["failed-session-count"], 203);
  EXPECT_EQ(f1["additional-information"],
            "https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported");
  EXPECT_EQ(f1["failure-reason-code"], "TLS is required, but was not offered");
  const auto& n = j["policies"][1];
  EXPECT_EQ(n["policy"]["policy-type"], "no-policy-found");
  EXPECT_EQ(n["policy"]["policy-domain"], "company-y.example");
  EXPECT_TRUE(n["policy"]["mx-host"].is_array());
  EXPECT_EQ(n["summary"]["total-failure-session-count"], 0);
  EXPECT_TRUE(n["failure-details"].empty());
  // Fields in the RFC's order.
  EXPECT_LT(r.json.find("organization-name"), r.json.find("date-range"));
  EXPECT_LT(r.json.find("report-id"), r.json.find("policies"));
}

TEST(Report, InvalidUtf8DoesNotThrow) {
  auto s = sample();
  s[0].failures[0].failure_reason_code = "bad \xff\xfe bytes";
  EXPECT_NO_THROW(build_report(meta, day, "company-y.example", s));
}

TEST(Report, GzipRoundTrip) {
  auto r = build_report(meta, day, "company-y.example", sample());
  ASSERT_GE(r.gzip.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(r.gzip[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(r.gzip[1]), 0x8b);
  auto back = gzip_decompress(r.gzip);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, r.json);
  EXPECT_FALSE(gzip_decompress("not gzip"));
  EXPECT_FALSE(gzip_decompress(std::string_view(r.gzip).substr(0, r.gzip.size() / 2)));
  EXPECT_FALSE(gzip_decompress(gzip_compress(std::string(1000, 'a')), 999));
}

TEST(Report, FileName) {
  auto r = build_report(meta, day, "company-y.example", sample());
  EXPECT_EQ(r.begin, 1795305600);
  EXPECT_EQ(r.end, 1795391999);
  const std::string prefix = "mail.sender.example!company-y.example!1795305600!1795391999!";
  ASSERT_EQ(r.file_name.substr(0, prefix.size()), prefix);
  std::string id = r.file_name.substr(prefix.size());
  ASSERT_GT(id.size(), 8u);
  EXPECT_EQ(id.substr(id.size() - 8), ".json.gz");
  id.resize(id.size() - 8);
  EXPECT_EQ(id.size(), 16u);
  for (char c : id) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << id;
  // Stable across rebuilds, different for another domain.
  EXPECT_EQ(build_report(meta, day, "company-y.example", {}).file_name, r.file_name);
  EXPECT_NE(build_report(meta, day, "company-z.example", {}).file_name.substr(prefix.size()),
            id + ".json.gz");
}

TEST(Report, WriteAtomicallyIntoOutbox) {
  auto dir = std::filesystem::temp_directory_path() / ("tlsrpt-outbox-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto r = build_report(meta, day, "company-y.example", sample());
  auto path = write_report(dir, r);
  EXPECT_EQ(path, dir / r.file_name);
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes, r.gzip);
  write_report(dir, r, Durability::none);  // overwrite in place
  sync_outbox(dir);
  std::size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    ++files;
    EXPECT_EQ(e.path().filename().string().rfind(".tmp", 0), std::string::npos);  // no temporary left
  }
  EXPECT_EQ(files, 1u);
  EXPECT_THROW(write_report(dir / "missing", r), std::system_error);
  std::filesystem::remove_all(dir);
}

// Minimal MIME reader for the test: headers of a part and its body.
std::map<std::string, std::string> headers_of(const std::string& part, std::string* body) {
  std::map<std::string, std::string> h;
  auto end = part.find("\r\n\r\n");
  std::string head = part.substr(0, end);
  if (body) *body = end == std::string::npos ? "" : part.substr(end + 4);
  std::size_t pos = 0;
  while (pos < head.size()) {
    auto eol = head.find("\r\n", pos);
    std::string line = head.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    auto colon = line.find(':');
    if (colon != std::string::npos) h[line.substr(0, colon)] = line.substr(colon + 2);
    if (eol == std::string::npos) break;
    pos = eol + 2;
  }
  return h;
}

std::string base64_decode(const std::string& in) {
  static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -8;
  for (char c : in) {
    auto p = alphabet.find(c);
    if (p == std::string::npos) continue;
    val = (val << 6) + static_cast<int>(p);
    bits += 6;
    if (bits >= 0) {
      out += static_cast<char>((val >> bits) & 0xff);
      bits -= 8;
    }
  }
  return out;
}

TEST(Report, MailStructure) {
  auto r = build_report(meta, day, "company-y.example", sample());
  MailEnvelope env{"tlsrpt-noreply@mail.sender.example",
                   {"tlsrpt@company-y.example", "b@company-y.example"},
                   1795400000,
                   "",
                   ""};
  std::string m = report_mail(meta, r, env);
  std::string body;
  auto h = headers_of(m, &body);
  EXPECT_EQ(h["From"], "tlsrpt-noreply@mail.sender.example");
  EXPECT_EQ(h["To"], "tlsrpt@company-y.example, b@company-y.example");
  EXPECT_EQ(h["Date"], "Mon, 23 Nov 2026 02:13:20 +0000");
  EXPECT_EQ(h["Subject"],
            "Report Domain: company-y.example Submitter: mail.sender.example Report-ID: "
            "<2026-11-22_company-y.example@mail.sender.example>");
  EXPECT_EQ(h["TLS-Report-Domain"], "company-y.example");
  EXPECT_EQ(h["TLS-Report-Submitter"], "mail.sender.example");
  EXPECT_EQ(h["TLS-Required"], "No");
  EXPECT_EQ(h["MIME-Version"], "1.0");
  ASSERT_EQ(h["Message-ID"].front(), '<');
  EXPECT_NE(h["Message-ID"].find("@mail.sender.example>"), std::string::npos);
  const std::string ct = h["Content-Type"];
  ASSERT_EQ(ct.rfind("multipart/report; report-type=\"tlsrpt\"; boundary=\"", 0), 0u) << ct;
  std::string boundary = ct.substr(ct.find("boundary=\"") + 10);
  boundary.pop_back();
  // Split the body on the boundary: preamble, two parts, epilogue after the closing delimiter.
  std::vector<std::string> parts;
  std::string delim = "\r\n--" + boundary;
  std::size_t pos = body.find(delim);
  ASSERT_NE(pos, std::string::npos);
  while (true) {
    std::size_t start = pos + delim.size();
    if (body.compare(start, 2, "--") == 0) break;
    std::size_t next = body.find(delim, start);
    ASSERT_NE(next, std::string::npos);
    parts.push_back(body.substr(start + 2, next - start - 2));
    pos = next;
  }
  ASSERT_EQ(parts.size(), 2u);
  std::string text, gz;
  auto h1 = headers_of(parts[0], &text);
  EXPECT_EQ(h1["Content-Type"].rfind("text/plain", 0), 0u);
  EXPECT_NE(text.find("mail.sender.example"), std::string::npos);
  auto h2 = headers_of(parts[1], &gz);
  EXPECT_EQ(h2["Content-Type"], "application/tlsrpt+gzip");
  EXPECT_EQ(h2["Content-Transfer-Encoding"], "base64");
  EXPECT_EQ(h2["Content-Disposition"], "attachment; filename=\"" + r.file_name + "\"");
  for (std::size_t p = 0, e; (e = gz.find("\r\n", p)) != std::string::npos; p = e + 2) EXPECT_LE(e - p, 76u);
  auto json = gzip_decompress(base64_decode(gz));
  ASSERT_TRUE(json);
  EXPECT_EQ(*json, r.json);
}

TEST(Report, Base64AndDates) {
  EXPECT_EQ(base64_lines(""), "");
  EXPECT_EQ(base64_lines("f"), "Zg==\r\n");
  EXPECT_EQ(base64_lines("fo"), "Zm8=\r\n");
  EXPECT_EQ(base64_lines("foobar"), "Zm9vYmFy\r\n");
  EXPECT_EQ(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(rfc3339_utc(1795330070), "2026-11-22T06:47:50Z");
}

}  // namespace
}  // namespace tlsfence::tlsrpt
