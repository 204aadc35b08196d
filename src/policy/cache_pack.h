#pragma once
// PackedDecision: a PolicyDecision in one compact heap block, as PolicyCache keeps it in
// memory (a million cached domains must fit in well under 1 KiB each; the full object with
// its dozen small allocations does not). Lossless: unpack() gives back exactly what was
// packed. The domain comes first, so the cache's index can view it in place.
#include <cstdint>
#include <memory>
#include <string_view>

#include "tlsfence/policy.h"

namespace tlsfence::policy {

class PackedDecision {
 public:
  PackedDecision() = default;
  static PackedDecision pack(const PolicyDecision& d);
  PolicyDecision unpack() const;

  std::string_view domain() const;
  Verdict verdict() const;
  std::size_t bytes() const { return size_; }  // heap block size
  explicit operator bool() const { return data_ != nullptr; }

 private:
  std::unique_ptr<char[]> data_;
  std::uint32_t size_ = 0;
};

}  // namespace tlsfence::policy
