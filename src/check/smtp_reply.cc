// SMTP reply splitting and EHLO keywords (see smtp_reply.h).
#include "check/smtp_reply.h"

namespace tlsfence::check {
namespace {

char upper(char c) {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

bool digit(char c) {
  return c >= '0' && c <= '9';
}

ReplyParse fail(std::string why) {
  ReplyParse p;
  p.status = ReplyStatus::error;
  p.error = std::move(why);
  return p;
}

}  // namespace

ReplyParse parse_reply(std::string_view buffer) {
  ReplyParse p;
  std::size_t pos = 0;
  for (;;) {
    const std::string_view rest = buffer.substr(pos);
    const std::size_t lf = rest.find('\n');
    if (lf == std::string_view::npos) {
      if (rest.size() >= smtp_line_max) {
        return fail("reply line longer than " + std::to_string(smtp_line_max) + " bytes");
      }
      p.reply = {};
      p.consumed = 0;
      return p;  // incomplete
    }
    if (lf + 1 > smtp_line_max)
      return fail("reply line longer than " + std::to_string(smtp_line_max) + " bytes");
    std::string_view line = rest.substr(0, lf);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() < 3 || !digit(line[0]) || !digit(line[1]) || !digit(line[2])) {
      return fail("not an SMTP reply line: \"" + printable(line, 80) + "\"");
    }
    const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (code < 200 || code > 599) return fail("reply code " + std::to_string(code) + " out of range");
    if (line.size() > 3 && line[3] != ' ' && line[3] != '-') {
      return fail("bad separator after reply code: \"" + printable(line, 80) + "\"");
    }
    if (p.reply.lines.empty()) {
      p.reply.code = code;
    } else if (code != p.reply.code) {
      return fail("multi-line reply changes its code from " + std::to_string(p.reply.code) + " to " +
                  std::to_string(code));
    }
    if (p.reply.lines.size() >= smtp_reply_lines_max) {
      return fail("reply longer than " + std::to_string(smtp_reply_lines_max) + " lines");
    }
    p.reply.lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view{});
    pos += lf + 1;
    const bool last = line.size() == 3 || line[3] == ' ';
    if (last) {
      p.status = ReplyStatus::complete;
      p.consumed = pos;
      return p;
    }
  }
}

std::vector<std::string> ehlo_keywords(const SmtpReply& ehlo) {
  std::vector<std::string> out;
  if (ehlo.code != 250) return out;
  for (std::size_t i = 1; i < ehlo.lines.size(); ++i) {
    std::string_view l = ehlo.lines[i];
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
    const std::size_t end = l.find_first_of(" \t=");
    std::string word(l.substr(0, end));
    if (word.empty()) continue;
    for (char& c : word) c = upper(c);
    out.push_back(std::move(word));
  }
  return out;
}

bool ehlo_offers(const SmtpReply& ehlo, std::string_view keyword) {
  std::string want(keyword);
  for (char& c : want) c = upper(c);
  for (const auto& k : ehlo_keywords(ehlo)) {
    if (k == want) return true;
  }
  return false;
}

std::string printable(std::string_view s, std::size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace tlsfence::check
