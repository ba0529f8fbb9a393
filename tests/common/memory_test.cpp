#include <sys/resource.h>

#include <cstdlib>
#include <cstring>

#include <catch2/catch.hpp>

#include "common/memory.h"

namespace {

long minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

/// Allocates `bytes`, writes every byte, frees it; returns the minor page faults this caused.
[[maybe_unused]] long faults_of_touching(std::size_t bytes) {
  const long before = minor_faults();
  void* block = std::malloc(bytes);
  REQUIRE(block != nullptr);
  std::memset(block, 1, bytes);
  std::free(block);
  return minor_faults() - before;
}

}  // namespace

TEST_CASE("tune_malloc keeps freed large blocks mapped", "[common][memory]") {
  // tests/main.cpp called tune_malloc() before any test, as nmt's main() does.
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer replaces malloc; its mallopt does nothing and reports failure.
  CHECK_FALSE(nmt::common::malloc_info()["tuned"].get<bool>());
#else
  constexpr std::size_t kBytes = 64 << 20;  // above glibc's largest mmap threshold (32 MiB)
  constexpr long kPages = kBytes / 4096;
  REQUIRE(nmt::common::malloc_info()["tuned"].get<bool>());
  REQUIRE(nmt::common::malloc_info()["mmap_max"].get<int>() == 0);
  faults_of_touching(kBytes);  // the first use may grow the heap
  // The second block reuses the pages of the first: far fewer faults than pages (untuned glibc mmaps a fresh
  // block and faults on all 16384 pages).
  CHECK(faults_of_touching(kBytes) < kPages / 10);
#endif
}
