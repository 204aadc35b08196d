// Logging to syslog or stderr (see log.h). A mutex serialises the stderr writes and the
// switch of target; syslog(3) itself is thread-safe.
#include "util/log.h"

#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace tlsfence::log {
namespace {

std::mutex g_mutex;
std::string g_ident = "tlsfence";  // syslog keeps the pointer: must outlive openlog
LogTarget g_target = LogTarget::stderr_;
std::atomic<int> g_level{static_cast<int>(LogLevel::info)};
bool g_syslog_open = false;

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
  }
  return false;
}

int syslog_priority(LogLevel level) {
  switch (level) {
    case LogLevel::error: return LOG_ERR;
    case LogLevel::warning: return LOG_WARNING;
    case LogLevel::info: return LOG_INFO;
    case LogLevel::debug: return LOG_DEBUG;
  }
  return LOG_INFO;
}

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::error: return "error";
    case LogLevel::warning: return "warning";
    case LogLevel::info: return "info";
    case LogLevel::debug: return "debug";
  }
  return "info";
}

std::string quote(std::string_view v) {
  if (!needs_quotes(v)) return std::string(v);
  std::string out = "\"";
  for (unsigned char c : v) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < ' ' || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  return out;
}

std::string format(std::string_view event, Fields fields) {
  std::string line;
  // The event text is meant to be a constant, but it must not break the line either.
  for (unsigned char c : event) line += (c < ' ' || c == 0x7f) ? '?' : static_cast<char>(c);
  for (const Field& f : fields) {
    line += ' ';
    line += f.key;
    line += '=';
    line += quote(f.value);
  }
  return line;
}

void init(std::string_view ident, LogTarget target, LogLevel level) {
  std::lock_guard lock(g_mutex);
  if (g_syslog_open && (target != LogTarget::syslog || ident != g_ident)) {
    closelog();
    g_syslog_open = false;
  }
  g_ident = std::string(ident);
  g_target = target;
  g_level = static_cast<int>(level);
  if (target == LogTarget::syslog && !g_syslog_open) {
    openlog(g_ident.c_str(), LOG_PID | LOG_NDELAY, LOG_MAIL);
    g_syslog_open = true;
  }
}

void set_level(LogLevel level) {
  g_level = static_cast<int>(level);
}

bool enabled(LogLevel level) {
  return static_cast<int>(level) <= g_level.load();
}

void write(LogLevel level, std::string_view event, Fields fields) {
  if (!enabled(level)) return;
  std::string text = format(event, fields);
  std::lock_guard lock(g_mutex);
  if (g_target == LogTarget::syslog) {
    ::syslog(syslog_priority(level), "%s: %s", to_string(level).data(), text.c_str());
    return;
  }
  std::string line = timestamp() + " " + g_ident + "[" + std::to_string(::getpid()) + "] " +
                     std::string(to_string(level)) + ": " + text + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace tlsfence::log
