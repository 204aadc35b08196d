#pragma once
// The loopback test world's variables ($TLSFENCE_WORLD_RUN/world.env, written by
// tests/world/up.sh) for the C++ integration tests. Empty when the world is not up.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace tlsfence::world_test {

inline std::map<std::string, std::string> read_world_env() {
  const char* run = std::getenv("TLSFENCE_WORLD_RUN");
  const std::filesystem::path file =
      std::filesystem::path(run && *run ? run : "/tmp/tlsfence-world") / "world.env";
  std::map<std::string, std::string> env;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    const auto eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\''))
      value = value.substr(1, value.size() - 2);
    env[line.substr(0, eq)] = value;
  }
  return env;
}

inline const std::map<std::string, std::string>& world() {
  static const auto env = read_world_env();
  return env;
}

}  // namespace tlsfence::world_test
