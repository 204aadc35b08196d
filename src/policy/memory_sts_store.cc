// In-memory StsStore (see memory_sts_store.h).
#include "policy/memory_sts_store.h"

namespace tlsfence::policy {

std::optional<CachedSts> MemoryStsStore::get_sts(const std::string& domain) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(domain);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void MemoryStsStore::put_sts(const std::string& domain, const CachedSts& entry) {
  std::lock_guard lock(mutex_);
  entries_.insert_or_assign(domain, entry);
}

void MemoryStsStore::erase_sts(const std::string& domain) {
  std::lock_guard lock(mutex_);
  entries_.erase(domain);
}

std::size_t MemoryStsStore::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace tlsfence::policy
