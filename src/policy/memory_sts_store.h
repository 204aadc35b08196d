#pragma once
// An in-memory StsStore: for unit tests and one-shot CLI runs without a cache file.
// Thread-safe (one mutex, never held across I/O). Entries are kept until replaced or erased;
// expiry is the evaluator's business (sts::is_fresh).
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "tlsfence/sts_store.h"

namespace tlsfence::policy {

class MemoryStsStore final : public StsStore {
 public:
  std::optional<CachedSts> get_sts(const std::string& domain) override;
  void put_sts(const std::string& domain, const CachedSts& entry) override;
  void erase_sts(const std::string& domain) override;
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, CachedSts> entries_;
};

}  // namespace tlsfence::policy
