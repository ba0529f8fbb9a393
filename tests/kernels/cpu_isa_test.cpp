#include <catch2/catch.hpp>

#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

#include "kernels/cpu_isa.h"

namespace {

/// The flags of the first processor in /proc/cpuinfo (the kernel's view, independent of libgcc's cpuid code);
/// empty when the file is missing (not Linux).
std::set<std::string> proc_cpu_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::set<std::string> flags;
    for (std::string w; words >> w;) flags.insert(w);
    return flags;
  }
  return {};
}

}  // namespace

TEST_CASE("NMT_CPU_ISA names: parse, reject, and agree with the CPU's flags", "[kernels]") {
  using nmt::kernels::CpuIsa;
  SECTION("generic is always supported and parses; unknown names are invalid_argument naming the variable") {
    CHECK(nmt::kernels::parse_isa("generic") == CpuIsa::kGeneric);
    CHECK(nmt::kernels::supported_isas().front() == CpuIsa::kGeneric);
    CHECK_THROWS_WITH(nmt::kernels::parse_isa("sse9"), Catch::Contains("NMT_CPU_ISA=sse9") &&
                                                          Catch::Contains("generic, avx2 or avx512"));
    CHECK_THROWS_AS(nmt::kernels::parse_isa("AVX2"), std::invalid_argument);
    CHECK_THROWS_AS(nmt::kernels::parse_isa(""), std::invalid_argument);
  }
#if defined(__x86_64__)
  SECTION("support follows /proc/cpuinfo (x86-64-v3 and v4 levels)") {
    const auto flags = proc_cpu_flags();
    if (flags.empty()) return;  // no /proc: nothing independent to compare with
    auto has = [&](std::initializer_list<const char*> names) {
      for (const char* n : names)
        if (!flags.count(n)) return false;
      return true;
    };
    // The x86-64 micro-architecture levels (x86-64 psABI): v2 adds these to the baseline, v3 AVX2 and friends
    // (LZCNT shows as "abm"), v4 the AVX-512 subsets.
    const bool v2 = has({"cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"});
    const bool v3 = v2 && has({"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "movbe", "xsave"}) &&
                    (flags.count("abm") || flags.count("lzcnt"));
    const bool v4 = v3 && has({"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"});
    CHECK(nmt::kernels::isa_supported(CpuIsa::kAvx2) == v3);
    CHECK(nmt::kernels::isa_supported(CpuIsa::kAvx512) == v4);
    CHECK(nmt::kernels::best_isa() == (v4 ? CpuIsa::kAvx512 : v3 ? CpuIsa::kAvx2 : CpuIsa::kGeneric));
    if (!v4) CHECK_THROWS_WITH(nmt::kernels::parse_isa("avx512"), Catch::Contains("does not support avx512"));
  }
#endif
  SECTION("ScopedIsa forces an ISA and restores the previous one") {
    const CpuIsa before = nmt::kernels::active_isa();
    {
      nmt::kernels::ScopedIsa force(CpuIsa::kGeneric);
      CHECK(nmt::kernels::active_isa() == CpuIsa::kGeneric);
    }
    CHECK(nmt::kernels::active_isa() == before);
  }
}
