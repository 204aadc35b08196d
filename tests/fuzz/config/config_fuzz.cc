// Fuzz target: config text → parse_ini + build_config, and each line as a listen spec.
// Any input must give a Config or a ConfigError, never a crash or another exception.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/load.h"
#include "util/listen_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    tlsfence::config::build_config(tlsfence::config::parse_ini(text, "fuzz"), {});
  } catch (const tlsfence::ConfigError&) {
  }
  auto spec = tlsfence::parse_listen_spec(text);
  if (spec.spec) {
    (void)tlsfence::to_string(*spec.spec);
    (void)tlsfence::to_milter_spec(*spec.spec);
  }
  return 0;
}
