// Fuzz target for the milter wire codec: any bytes, fed whole and in chunks, must give the
// same packets and error, never crash, and respect the limits; every decoder runs on every
// packet's data, and what it returns must lie inside that data and keep its layout; the
// encoders' output must read back as one packet.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../chunks.h"
#include "parse/milter_wire.h"
#include "tlsfence/limits.h"

namespace {

namespace wire = tlsfence::parse::milter;
using Reader = wire::PacketReader;

struct Outcome {
  std::vector<std::pair<char, std::string>> packets;
  wire::WireError error = wire::WireError::none;
};

// True when `part` lies inside `whole` (decoders return views into the packet's data).
bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

void check_strings(const std::vector<std::string_view>& strings, std::string_view data) {
  if (strings.empty()) std::abort();
  std::size_t total = 0;
  for (auto s : strings) {
    if (!inside(s, data) || s.find('\0') != std::string_view::npos) std::abort();
    total += s.size() + 1;
  }
  if (total != data.size()) std::abort();
}

void decode_everything(std::string_view data) {
  if (auto n = wire::decode_negotiation(data)) {
    if (data.size() < 12) std::abort();
  } else if (data.size() >= 12) {
    std::abort();
  }
  if (auto s = wire::decode_strings(data)) check_strings(*s, data);
  if (auto m = wire::decode_macros(data)) {
    if (data.empty() || m->stage != data[0]) std::abort();
    for (const auto& [name, value] : m->values) {
      if (!inside(name, data) || !inside(value, data)) std::abort();
    }
  }
  if (auto c = wire::decode_connect(data)) {
    if (!inside(c->hostname, data) || !inside(c->address, data)) std::abort();
    if (c->hostname.find('\0') != std::string_view::npos || c->address.find('\0') != std::string_view::npos) {
      std::abort();
    }
    if (c->family != 'U' && c->family != '4' && c->family != '6' && c->family != 'L') std::abort();
    if (c->family == 'U' && (c->port != 0 || !c->address.empty())) std::abort();
  }
  if (auto h = wire::decode_header(data)) {
    if (!inside(h->name, data) || !inside(h->value, data)) std::abort();
    if (h->name.size() + h->value.size() + 2 != data.size()) std::abort();
  }
}

void drain(Reader& r, Outcome& out) {
  while (true) {
    auto n = r.next();
    if (n.status == Reader::Status::need_more) return;
    if (n.status == Reader::Status::error) {
      if (n.error == wire::WireError::none) std::abort();
      out.error = n.error;
      // Sticky.
      if (r.next().status != Reader::Status::error) std::abort();
      return;
    }
    if (n.packet.data.size() + 1 > tlsfence::limits::milter_packet_max) std::abort();
    out.packets.emplace_back(n.packet.command, std::string(n.packet.data));
  }
}

// One packet out of `bytes`, or abort.
std::pair<char, std::string> only_packet(const std::string& bytes) {
  Reader r;
  r.feed(bytes);
  auto n = r.next();
  if (n.status != Reader::Status::packet) std::abort();
  std::pair<char, std::string> p{n.packet.command, std::string(n.packet.data)};
  if (r.next().status != Reader::Status::need_more || r.mid_packet()) std::abort();
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  Outcome whole;
  Reader a;
  a.feed(input);
  drain(a, whole);

  // The same bytes in chunks whose sizes come from the input itself.
  Outcome chunked;
  Reader b;
  tlsfence::fuzz::feed_in_chunks(data, size, [&](std::string_view chunk) {
    b.feed(chunk);
    drain(b, chunked);
    return chunked.error == wire::WireError::none;
  });
  if (whole.error != chunked.error) std::abort();
  if (whole.packets != chunked.packets) std::abort();
  if (whole.error == wire::WireError::none && a.mid_packet() != b.mid_packet()) std::abort();

  // Every decoder on every packet's data (and on the raw input, whatever its command).
  for (const auto& [command, packet_data] : whole.packets) decode_everything(packet_data);
  decode_everything(input.substr(0, 4096));

  // Encoders: one packet each, with the layout the MTA reads.
  const std::string_view text = input.substr(0, 300);
  const auto reply = only_packet(wire::encode_reply_code("451", "4.7.5", text));
  if (reply.first != 'y' || reply.second.find('\0') != reply.second.size() - 1) std::abort();
  if (reply.second.find_first_of("\r\n") != std::string::npos) std::abort();
  const std::string_view name = input.substr(0, size / 2), value = input.substr(size / 2);
  const auto header = only_packet(wire::encode_add_header(name, value));
  const auto h = wire::decode_header(header.second);
  if (header.first != 'h' || !h) std::abort();
  if (h->name != name.substr(0, name.find('\0')) || h->value != value.substr(0, value.find('\0')))
    std::abort();
  if (size >= 12) {
    const auto n = wire::decode_negotiation(input);
    const auto back = only_packet(wire::encode_negotiation(*n));
    const auto again = wire::decode_negotiation(back.second);
    if (back.first != 'O' || back.second.size() != 12 || !again) std::abort();
    if (again->version != n->version || again->actions != n->actions || again->protocol != n->protocol) {
      std::abort();
    }
  }
  return 0;
}
