#pragma once
// Shared helpers of the libFuzzer targets in tests/fuzz/ (not part of the unit tests).

#include <cstdio>
#include <cstdlib>
#include <string>

namespace nmt::fuzz {

/// Reports a broken invariant and aborts, so libFuzzer records the input as a crash.
[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "FUZZ INVARIANT BROKEN: %s\n", what.c_str());
  std::abort();
}

/// Aborts with `what` unless `ok`.
inline void check(bool ok, const std::string& what) {
  if (!ok) fail(what);
}

}  // namespace nmt::fuzz
