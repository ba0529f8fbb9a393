#include "common/blas.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <optional>
#include <string>

namespace {

using nmt::common::CpuFeatures;

/// Sets (or unsets, for nullopt) an environment variable for the lifetime of the guard, then
/// restores the previous value.
class EnvGuard {
 public:
  EnvGuard(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = std::string(old);
    if (value) {
      setenv(name, value->c_str(), 1);
    } else {
      unsetenv(name);
    }
  }
  ~EnvGuard() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  EnvGuard(const EnvGuard&) = delete;
  EnvGuard& operator=(const EnvGuard&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

CpuFeatures cpu(bool avx512f, bool avx2, bool fma) {
  CpuFeatures c;
  c.avx512f = avx512f;
  c.avx2 = avx2;
  c.fma = fma;
  return c;
}

}  // namespace

TEST_CASE("choose_openblas_core decides which kernels to force", "[common][blas]") {
  struct Case {
    const char* name;
    CpuFeatures cpu;
    std::string detected;
    std::optional<std::string> user;
    std::optional<std::string> expected;
  };
  const std::optional<std::string> none;
  const auto c = GENERATE_COPY(values<Case>({
      {"avx512 + Prescott", cpu(true, true, true), "Prescott", none, std::string("SkylakeX")},
      {"avx2+fma + Prescott", cpu(false, true, true), "Prescott", none, std::string("Haswell")},
      {"avx2 without fma", cpu(false, true, false), "Prescott", none, none},
      {"no avx", cpu(false, false, false), "Prescott", none, none},
      {"user set Prescott", cpu(true, true, true), "Prescott", std::string("Prescott"), none},
      {"user set empty", cpu(true, true, true), "Prescott", std::string(""), none},
      {"already SkylakeX", cpu(true, true, true), "SkylakeX", none, none},
      {"already SKYLAKEX (static build)", cpu(true, true, true), "SKYLAKEX", none, none},
      {"already Cooperlake", cpu(true, true, true), "Cooperlake", none, none},
      {"already SapphireRapids", cpu(true, true, true), "sapphirerapids", none, none},
      {"Haswell on avx512 cpu", cpu(true, true, true), "Haswell", none, std::string("SkylakeX")},
      {"Zen on avx512 cpu", cpu(true, true, true), "Zen", none, std::string("SkylakeX")},
      {"already Haswell on avx2 cpu", cpu(false, true, true), "HASWELL", none, none},
      {"already Zen on avx2 cpu", cpu(false, true, true), "Zen", none, none},
      {"Sandybridge on avx2 cpu", cpu(false, true, true), "Sandybridge", none,
       std::string("Haswell")},
      {"not OpenBLAS", cpu(true, true, true), "", none, none},
  }));
  INFO(c.name);
  CHECK(nmt::common::choose_openblas_core(c.cpu, c.detected, c.user) == c.expected);
}

TEST_CASE("choose_openblas_thread_timeout shortens OpenBLAS's idle spinning", "[common][blas]") {
  using nmt::common::choose_openblas_thread_timeout;
  CHECK(choose_openblas_thread_timeout(true, 2, std::nullopt) == std::optional<std::string>("4"));
  CHECK(choose_openblas_thread_timeout(true, 16, std::nullopt) == std::optional<std::string>("4"));
  CHECK_FALSE(choose_openblas_thread_timeout(true, 2, std::string("28")).has_value());  // the user's wins
  CHECK_FALSE(choose_openblas_thread_timeout(true, 2, std::string("")).has_value());
  CHECK_FALSE(choose_openblas_thread_timeout(true, 1, std::nullopt).has_value());  // no idle workers
  CHECK_FALSE(choose_openblas_thread_timeout(false, 2, std::nullopt).has_value()); // not OpenBLAS
}

TEST_CASE("cpu_features_string lists present features", "[common][blas]") {
  CHECK(nmt::common::cpu_features_string(cpu(true, true, true)) == "avx512f avx2 fma");
  CHECK(nmt::common::cpu_features_string(cpu(false, true, false)) == "avx2");
  CHECK(nmt::common::cpu_features_string(cpu(false, false, false)) == "none");
}

TEST_CASE("detect_cpu_features agrees with the kernel's /proc/cpuinfo flags", "[common][blas]") {
  // /proc/cpuinfo is the Linux kernel's reading of cpuid (and of what the OS enables), independent of libgcc's
  // __builtin_cpu_supports that detect_cpu_features uses.
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::set<std::string> flags;
  while (flags.empty() && std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    for (std::string w; words >> w;) flags.insert(w);
  }
  if (flags.empty()) return;  // not Linux, or no x86 flags line: nothing independent to compare with
  const CpuFeatures f = nmt::common::detect_cpu_features();
  CHECK(f.avx512f == (flags.count("avx512f") == 1));
  CHECK(f.avx2 == (flags.count("avx2") == 1));
  CHECK(f.fma == (flags.count("fma") == 1));
  std::string expected;
  for (const char* name : {"avx512f", "avx2", "fma"})
    if (flags.count(name)) expected += (expected.empty() ? "" : " ") + std::string(name);
  CHECK(nmt::common::cpu_features_string(f) == (expected.empty() ? "none" : expected));
}

TEST_CASE("blas_info reports OpenBLAS and how its core was chosen", "[common][blas]") {
  SECTION("OpenBLAS is the BLAS in use (linked through LibTorch)") {
    const auto info = nmt::common::blas_info();
    CHECK_FALSE(info.core.empty());
    CHECK(info.core == nmt::common::openblas_core_name());
    CHECK(info.openblas_threads >= 1);
    CHECK(info.cpu_features ==
          nmt::common::cpu_features_string(nmt::common::detect_cpu_features()));
  }
  SECTION("chosen by OpenBLAS when nothing is set") {
    EnvGuard a("OPENBLAS_CORETYPE", std::nullopt);
    EnvGuard b("NMT_BLAS_REEXEC", std::nullopt);
    const auto info = nmt::common::blas_info();
    CHECK(info.chosen_by == "openblas");
    CHECK(info.note.empty());
  }
  SECTION("chosen by the user when only OPENBLAS_CORETYPE is set") {
    EnvGuard a("OPENBLAS_CORETYPE", std::string("Prescott"));
    EnvGuard b("NMT_BLAS_REEXEC", std::nullopt);
    CHECK(nmt::common::blas_info().chosen_by == "user");
  }
  SECTION("chosen automatically after a re-exec") {
    EnvGuard a("OPENBLAS_CORETYPE", std::string("SkylakeX"));
    EnvGuard b("NMT_BLAS_REEXEC", std::string("1"));
    CHECK(nmt::common::blas_info().chosen_by == "auto");
  }
  SECTION("a failed re-exec is reported in the note") {
    EnvGuard a("OPENBLAS_CORETYPE", std::nullopt);
    EnvGuard b("NMT_BLAS_REEXEC", std::string("failed: No such file or directory"));
    const auto info = nmt::common::blas_info();
    CHECK(info.chosen_by == "openblas");
    CHECK(info.note == "re-exec with OpenBLAS settings failed: No such file or directory");
    CHECK(info.to_json().at("note") == info.note);
  }
}

TEST_CASE("BlasInfo formats for logs and metrics", "[common][blas]") {
  nmt::common::BlasInfo info;
  info.core = "SkylakeX";
  info.chosen_by = "auto";
  info.cpu_features = "avx512f avx2 fma";
  info.openblas_threads = 2;
  CHECK(info.describe() == "OpenBLAS core SkylakeX (cpu: avx512f avx2 fma; chosen by auto)");
  const auto j = info.to_json();
  CHECK(j.at("core") == "SkylakeX");
  CHECK(j.at("chosen_by") == "auto");
  CHECK(j.at("cpu_features") == "avx512f avx2 fma");
  CHECK(j.at("openblas_threads") == 2);
  CHECK(j.at("openblas_thread_timeout") == "");
  CHECK_FALSE(j.contains("note"));

  info.core = "";
  info.chosen_by = "openblas";
  info.note = "re-exec with OpenBLAS settings failed: x";
  CHECK(info.describe() ==
        "BLAS is not OpenBLAS (cpu: avx512f avx2 fma; chosen by openblas) "
        "[re-exec with OpenBLAS settings failed: x]");
}

TEST_CASE("ensure_fast_blas never re-executes twice", "[common][blas]") {
  SECTION("returns when NMT_BLAS_REEXEC is already set") {
    EnvGuard a("NMT_BLAS_REEXEC", std::string("1"));
    EnvGuard b("OPENBLAS_CORETYPE", std::nullopt);
    char arg0[] = "nmt_tests";
    char* argv[] = {arg0, nullptr};
    nmt::common::ensure_fast_blas(1, argv);  // would replace this process otherwise
    CHECK(std::getenv("OPENBLAS_CORETYPE") == nullptr);
  }
  SECTION("returns when the user chose the core and the thread timeout") {
    EnvGuard a("NMT_BLAS_REEXEC", std::nullopt);
    EnvGuard b("OPENBLAS_CORETYPE", std::string("Prescott"));
    EnvGuard c("OPENBLAS_THREAD_TIMEOUT", std::string("28"));
    char arg0[] = "nmt_tests";
    char* argv[] = {arg0, nullptr};
    nmt::common::ensure_fast_blas(1, argv);
    CHECK(std::string(std::getenv("OPENBLAS_CORETYPE")) == "Prescott");
    CHECK(std::getenv("NMT_BLAS_REEXEC") == nullptr);
  }
  SECTION("returns without arguments") {
    EnvGuard a("NMT_BLAS_REEXEC", std::nullopt);
    EnvGuard b("OPENBLAS_CORETYPE", std::nullopt);
    nmt::common::ensure_fast_blas(0, nullptr);
    CHECK(std::getenv("NMT_BLAS_REEXEC") == nullptr);
  }
}
