// Fuzz target for the policy delegation attribute parser: any bytes, fed whole and in
// chunks, must give the same requests and errors, never crash, and respect the limits.
// The parser runs with small limits (kLimits: lines of 256 bytes, 16 attributes), so that
// inputs of a few hundred bytes reach them: the door's 8 KiB lines made every input that
// tested the line limit 8 KiB long, fed twice (the slowest target, 8,000 exec/s).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "../chunks.h"
#include "parse/policyd_attrs.h"

namespace {

using tlsfence::parse::PolicydParser;

constexpr PolicydParser::Limits kLimits{256, 16};

struct Outcome {
  std::vector<tlsfence::parse::PolicydRequest> requests;
  tlsfence::parse::PolicydError error = tlsfence::parse::PolicydError::none;
};

void drain(PolicydParser& p, Outcome& out) {
  while (true) {
    auto r = p.next();
    if (r.status == PolicydParser::Status::need_more) return;
    if (r.status == PolicydParser::Status::error) {
      out.error = r.error;
      return;
    }
    if (r.request.attributes.size() > kLimits.attributes_max) std::abort();
    for (const auto& [name, value] : r.request.attributes) {
      if (name.empty() || name.find('=') != std::string::npos) std::abort();
      if (name.size() + value.size() + 1 > kLimits.line_max) std::abort();
    }
    out.requests.push_back(std::move(r.request));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  Outcome whole;
  PolicydParser a(kLimits);
  a.feed(input);
  drain(a, whole);

  // The same bytes in chunks whose sizes come from the input itself.
  Outcome chunked;
  PolicydParser b(kLimits);
  tlsfence::fuzz::feed_in_chunks(data, size, [&](std::string_view chunk) {
    b.feed(chunk);
    drain(b, chunked);
    return chunked.error == tlsfence::parse::PolicydError::none;
  });
  if (whole.error != chunked.error) std::abort();
  if (whole.requests.size() != chunked.requests.size()) std::abort();
  for (std::size_t i = 0; i < whole.requests.size(); ++i) {
    if (whole.requests[i].attributes != chunked.requests[i].attributes) std::abort();
  }

  const std::string reply = tlsfence::parse::encode_policyd_reply(input.substr(0, 200));
  if (reply.size() < 9 || reply.compare(reply.size() - 2, 2, "\n\n") != 0) std::abort();
  if (reply.find('\n') != reply.size() - 2) std::abort();
  return 0;
}
