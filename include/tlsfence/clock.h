#pragma once
// Time is an input: the policy code asks a Clock, tests inject a fake one.
#include <chrono>

namespace tlsfence {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point now() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::now(); }
};

}  // namespace tlsfence
