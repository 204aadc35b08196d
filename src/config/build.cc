// From settings to the immutable Config: unknown keys, repeated keys and bad values are
// ConfigErrors naming the key and where it was given. Also reads the file (load()).
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "config/load.h"
#include "config/schema.h"
#include "tlsfence/limits.h"

namespace tlsfence::config {
namespace {

struct Layer {
  std::map<std::string, std::vector<const Setting*>> by_key;
};

Layer group(const std::vector<Setting>& settings) {
  Layer layer;
  for (const Setting& s : settings) {
    const KeyInfo* k = find_key(s.key);
    if (k == nullptr) throw ConfigError(s.origin + ": unknown key \"" + printable(s.key) + "\"");
    auto& list = layer.by_key[s.key];
    if (!k->repeatable && !list.empty()) {
      throw ConfigError(s.origin + ": " + s.key + " given again (first at " + list.front()->origin +
                        "); only repeatable keys may repeat");
    }
    list.push_back(&s);
  }
  return layer;
}

}  // namespace

Config build_config(const std::vector<Setting>& file, const std::vector<Setting>& command_line) {
  Layer from_file = group(file);
  Layer from_cli = group(command_line);
  Config config;
  for (const KeyInfo& k : schema()) {
    std::string name(k.name);
    const std::vector<const Setting*>* values = nullptr;
    if (auto it = from_cli.by_key.find(name); it != from_cli.by_key.end()) {
      values = &it->second;
    } else if (auto jt = from_file.by_key.find(name); jt != from_file.by_key.end()) {
      values = &jt->second;
    }
    if (values == nullptr) continue;
    if (k.repeatable) k.clear(config);
    for (const Setting* s : *values) {
      std::string why = k.set(config, s->value);
      if (!why.empty()) throw ConfigError(s->origin + ": " + name + ": " + why);
    }
  }
  return config;
}

Config load(const CommandLine& cmd, std::vector<std::string>* warnings) {
  std::vector<Setting> file_settings;
  std::string source;
  std::error_code ec;
  bool exists = std::filesystem::exists(cmd.config_file, ec);
  if (!cmd.config_given && !exists && !ec) {
    if (warnings) {
      warnings->push_back("config file " + cmd.config_file +
                          " not found; using built-in defaults (give --config FILE to use another)");
    }
  } else {
    if (std::filesystem::is_directory(cmd.config_file, ec)) {
      throw ConfigError("--config: cannot read " + cmd.config_file + ": is a directory");
    }
    std::ifstream in(cmd.config_file, std::ios::binary);
    if (!in) throw ConfigError("--config: cannot read " + cmd.config_file + ": " + std::strerror(errno));
    std::string text;
    char buf[65536];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
      text.append(buf, static_cast<std::size_t>(in.gcount()));
      if (text.size() > limits::config_file_max) break;
    }
    if (in.bad()) throw ConfigError("--config: cannot read " + cmd.config_file + ": read error");
    file_settings = parse_ini(text, cmd.config_file);
    source = cmd.config_file;
  }
  Config config = build_config(file_settings, cmd.overrides);
  config.source_file = source;
  return config;
}

}  // namespace tlsfence::config
