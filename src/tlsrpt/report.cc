// RFC 8460 report building: JSON (nlohmann ordered_json), gzip (zlib), atomic outbox
// writes (POSIX), and the §5.3 mail. Trusts its inputs (they come from our own store).
#include "tlsrpt/report.h"
#include "tlsrpt/counters.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <system_error>

#include "parse/postfix_log.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"  // g++ 12 false positive in nlohmann (GCC bug 105329)
#endif

namespace tlsfence::tlsrpt {
namespace {

using ojson = nlohmann::ordered_json;

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string hex16(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

void write_all(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(what);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void fsync_dir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_errno("open " + dir.string());
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  errno = saved;
  if (rc != 0) throw_errno("fsync " + dir.string());
}

}  // namespace

std::string report_id_for(std::int64_t day, std::string_view policy_domain, std::string_view submitter) {
  return day_string(day) + "_" + std::string(policy_domain) + "@" + std::string(submitter);
}

std::string rfc3339_utc(std::int64_t t) {
  std::int64_t day = utc_day(t);
  std::int64_t secs = t - day * 86400;
  int y, m, d;
  parse::civil_from_days(day, y, m, d);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, static_cast<int>(secs / 3600),
                static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60));
  return buf;
}

std::string report_json(const ReportMeta& meta, std::int64_t day, std::string_view policy_domain,
                        std::string_view report_id, const std::vector<PolicyAggregate>& policies) {
  ojson j;
  j["organization-name"] = meta.organization_name;
  j["date-range"] = {{"start-datetime", rfc3339_utc(day * 86400)},
                     {"end-datetime", rfc3339_utc(day * 86400 + 86399)}};
  j["contact-info"] = meta.contact_info;
  j["report-id"] = std::string(report_id);
  ojson list = ojson::array();
  for (const auto& p : policies) {
    ojson entry;
    ojson policy;
    policy["policy-type"] = std::string(to_string(p.policy.type));
    policy["policy-string"] = p.policy.strings;
    policy["policy-domain"] = p.policy.domain.empty() ? std::string(policy_domain) : p.policy.domain;
    policy["mx-host"] = p.policy.mx_hosts;
    entry["policy"] = std::move(policy);
    entry["summary"] = {{"total-successful-session-count", p.successful_sessions},
                        {"total-failure-session-count", p.failed_sessions}};
    ojson details = ojson::array();
    for (const auto& f : p.failures) {
      ojson d;
      d["result-type"] = std::string(to_string(f.result));
      if (!f.sending_mta_ip.empty()) d["sending-mta-ip"] = f.sending_mta_ip;
      if (!f.receiving_mx_hostname.empty()) d["receiving-mx-hostname"] = f.receiving_mx_hostname;
      if (!f.receiving_mx_helo.empty()) d["receiving-mx-helo"] = f.receiving_mx_helo;
      if (!f.receiving_ip.empty()) d["receiving-ip"] = f.receiving_ip;
      d["failed-session-count"] = f.failed_session_count;
      if (!f.additional_information.empty()) d["additional-information"] = f.additional_information;
      if (!f.failure_reason_code.empty()) d["failure-reason-code"] = f.failure_reason_code;
      details.push_back(std::move(d));
    }
    entry["failure-details"] = std::move(details);
    list.push_back(std::move(entry));
  }
  j["policies"] = std::move(list);
  // Invalid UTF-8 from a log line must not make dump() throw: replace it.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string report_file_name(std::string_view submitter, std::string_view policy_domain, std::int64_t begin,
                             std::int64_t end, std::string_view report_id) {
  std::string name;
  name.reserve(submitter.size() + policy_domain.size() + 64);
  name.append(submitter).append("!").append(policy_domain).append("!");
  name.append(std::to_string(begin)).append("!").append(std::to_string(end)).append("!");
  name.append(hex16(fnv1a(report_id))).append(".json.gz");
  return name;
}

BuiltReport build_report(const ReportMeta& meta, std::int64_t day, std::string_view policy_domain,
                         const std::vector<PolicyAggregate>& policies) {
  BuiltReport r;
  r.day = day;
  r.policy_domain = std::string(policy_domain);
  r.report_id = report_id_for(day, policy_domain, meta.submitter);
  r.begin = day * 86400;
  r.end = r.begin + 86399;
  r.json = report_json(meta, day, policy_domain, r.report_id, policies);
  r.gzip = gzip_compress(r.json);
  r.file_name = report_file_name(meta.submitter, policy_domain, r.begin, r.end, r.report_id);
  return r;
}

namespace {

// Deflate states are kept per thread and reset between reports: deflateInit2 allocates
// ~300 KiB, which dominated the cost of building 100,000 small reports.
// Small reports (the common case) use a small window and hash table: deflateReset clears the
// hash table, 64 KiB at the default memLevel, more work than compressing a 1 KiB report.
class Deflater {
 public:
  Deflater(int window_bits, int mem_level) {
    if (deflateInit2(&zs_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, window_bits + 16, mem_level,
                     Z_DEFAULT_STRATEGY) != Z_OK)
      throw std::runtime_error("gzip: deflateInit2 failed");
  }
  ~Deflater() { deflateEnd(&zs_); }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  std::string compress(std::string_view data) {
    if (deflateReset(&zs_) != Z_OK) throw std::runtime_error("gzip: deflateReset failed");
    std::string out;
    out.resize(deflateBound(&zs_, static_cast<uLong>(data.size())) + 32);
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs_.avail_in = static_cast<uInt>(data.size());
    zs_.next_out = reinterpret_cast<Bytef*>(out.data());
    zs_.avail_out = static_cast<uInt>(out.size());
    if (deflate(&zs_, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("gzip: deflate failed");
    out.resize(zs_.total_out);
    return out;
  }

 private:
  z_stream zs_{};
};

}  // namespace

std::string gzip_compress(std::string_view data) {
  constexpr std::size_t small = 4096;
  if (data.size() <= small) {
    thread_local Deflater small_deflater(12, 4);  // 4 KiB window: the whole input
    return small_deflater.compress(data);
  }
  thread_local Deflater deflater(15, 8);
  return deflater.compress(data);
}

std::optional<std::string> gzip_decompress(std::string_view data, std::size_t max_size) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return std::nullopt;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[16384];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    out.append(buf, sizeof buf - zs.avail_out);
    if (out.size() > max_size) break;
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) break;  // truncated input
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END || out.size() > max_size) return std::nullopt;
  return out;
}

std::filesystem::path write_report(const std::filesystem::path& outbox, const BuiltReport& report,
                                   Durability durability) {
  const auto final_path = outbox / report.file_name;
  const auto tmp_path = outbox / (".tmp." + std::to_string(::getpid()) + "." + report.file_name);
  int fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) throw_errno("create " + tmp_path.string());
  try {
    write_all(fd, report.gzip, "write " + tmp_path.string());
    if (durability == Durability::fsync && ::fsync(fd) != 0) throw_errno("fsync " + tmp_path.string());
  } catch (...) {
    ::close(fd);
    ::unlink(tmp_path.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    ::unlink(tmp_path.c_str());
    throw_errno("close " + tmp_path.string());
  }
  if (::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
    int saved = errno;
    ::unlink(tmp_path.c_str());
    errno = saved;
    throw_errno("rename " + final_path.string());
  }
  if (durability == Durability::fsync) fsync_dir(outbox);
  counters().reports_built.inc();
  return final_path;
}

void sync_outbox(const std::filesystem::path& outbox) {
  int fd = ::open(outbox.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_errno("open " + outbox.string());
  int rc = ::syncfs(fd);
  int saved = errno;
  ::close(fd);
  errno = saved;
  if (rc != 0) throw_errno("syncfs " + outbox.string());
}

std::string rfc5322_date(std::int64_t t) {
  static constexpr const char* wdays[] = {"Thu", "Fri", "Sat", "Sun",
                                          "Mon", "Tue", "Wed"};  // 1970-01-01: Thu
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::int64_t day = utc_day(t);
  std::int64_t secs = t - day * 86400;
  int y, m, d;
  parse::civil_from_days(day, y, m, d);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", wdays[((day % 7) + 7) % 7], d,
                months[m - 1], y, static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                static_cast<int>(secs % 60));
  return buf;
}

std::string base64_lines(std::string_view data) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve(data.size() * 4 / 3 + data.size() / 38 + 8);
  std::size_t col = 0;
  auto put = [&](char c) {
    out += c;
    if (++col == 76) {
      out += "\r\n";
      col = 0;
    }
  };
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    auto a = static_cast<unsigned char>(data[i]), b = static_cast<unsigned char>(data[i + 1]),
         c = static_cast<unsigned char>(data[i + 2]);
    put(alphabet[a >> 2]);
    put(alphabet[((a & 3) << 4) | (b >> 4)]);
    put(alphabet[((b & 15) << 2) | (c >> 6)]);
    put(alphabet[c & 63]);
  }
  if (i < data.size()) {
    auto a = static_cast<unsigned char>(data[i]);
    auto b = i + 1 < data.size() ? static_cast<unsigned char>(data[i + 1]) : 0;
    put(alphabet[a >> 2]);
    put(alphabet[((a & 3) << 4) | (b >> 4)]);
    put(i + 1 < data.size() ? alphabet[(b & 15) << 2] : '=');
    put('=');
  }
  if (col != 0) out += "\r\n";
  return out;
}

std::string report_mail(const ReportMeta& meta, const BuiltReport& report, const MailEnvelope& env) {
  const std::string id_hash = hex16(fnv1a(report.report_id));
  const std::string boundary = env.boundary.empty() ? "tlsrpt-" + id_hash : env.boundary;
  const std::string message_id = env.message_id.empty()
                                     ? std::string(own_message_id_prefix) + id_hash + "." +
                                           std::to_string(env.date_unix) + "@" + meta.submitter
                                     : env.message_id;
  std::string to;
  for (const auto& a : env.to) to += (to.empty() ? "" : ", ") + a;
  std::string m;
  m.reserve(report.gzip.size() * 4 / 3 + 2048);
  m += "From: " + env.from + "\r\n";
  m += "To: " + to + "\r\n";
  m += "Date: " + rfc5322_date(env.date_unix) + "\r\n";
  m += "Subject: Report Domain: " + report.policy_domain + " Submitter: " + meta.submitter + " Report-ID: <" +
       report.report_id + ">\r\n";
  m += "Message-ID: <" + message_id + ">\r\n";
  m += "TLS-Report-Domain: " + report.policy_domain + "\r\n";
  m += "TLS-Report-Submitter: " + meta.submitter + "\r\n";
  m += "TLS-Required: No\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: multipart/report; report-type=\"tlsrpt\"; boundary=\"" + boundary + "\"\r\n";
  m += "\r\n";
  m += "This is a multipart message in MIME format.\r\n";
  m += "\r\n--" + boundary + "\r\n";
  m += "Content-Type: text/plain; charset=\"us-ascii\"\r\n";
  m += "Content-Transfer-Encoding: 7bit\r\n\r\n";
  m += "This is an aggregate TLS report from " + meta.submitter + " for " + report.policy_domain + ", " +
       rfc3339_utc(report.begin) + " to " + rfc3339_utc(report.end) + ".\r\n";
  m += "\r\n--" + boundary + "\r\n";
  m += "Content-Type: application/tlsrpt+gzip\r\n";
  m += "Content-Transfer-Encoding: base64\r\n";
  m += "Content-Disposition: attachment; filename=\"" + report.file_name + "\"\r\n\r\n";
  m += base64_lines(report.gzip);
  m += "\r\n--" + boundary + "--\r\n";
  return m;
}

}  // namespace tlsfence::tlsrpt
