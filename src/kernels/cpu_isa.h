#pragma once
// Which instruction-set build of the fused CPU loops runs (kernels/kernels.h).

#include <string>
#include <vector>

namespace nmt::kernels {

/// An instruction-set build of the loops: kGeneric (the compiler's baseline, x86-64 with SSE2 on amd64),
/// kAvx2 (x86-64-v3: AVX2, FMA, BMI2) and kAvx512 (x86-64-v4: AVX-512 F/BW/CD/DQ/VL). Ordered from the
/// least to the most capable.
enum class CpuIsa { kGeneric = 0, kAvx2 = 1, kAvx512 = 2 };

/// The environment variable that forces one build, as CTranslate2's `CT2_FORCE_CPU_ISA` does.
inline constexpr const char* kCpuIsaEnv = "NMT_CPU_ISA";

/// "generic", "avx2" or "avx512" (the values NMT_CPU_ISA takes). Never throws.
const char* isa_name(CpuIsa isa);

/// Whether `isa` is built into this binary (AVX2 and AVX-512 only on x86-64 with GCC or Clang) and the running
/// CPU and OS support it (`__builtin_cpu_supports("x86-64-v3")` / `("x86-64-v4")`, which include the OS's saving
/// of the wide registers). Never throws.
bool isa_supported(CpuIsa isa);

/// Every ISA isa_supported() accepts, from the least to the most capable; always contains kGeneric. Never throws.
std::vector<CpuIsa> supported_isas();

/// The most capable supported ISA: what runs when NMT_CPU_ISA is not set. Never throws.
CpuIsa best_isa();

/// The ISA named `value` ("generic", "avx2", "avx512"; exact, lower case). Throws std::invalid_argument naming
/// NMT_CPU_ISA, the value and the accepted values for any other string, and for a known ISA this CPU or
/// build does not support (naming the supported ones).
CpuIsa parse_isa(const std::string& value);

/// The ISA in use. The first call decides it: parse_isa($NMT_CPU_ISA) when the variable is set and not empty,
/// best_isa() otherwise; it then stays until set_isa(). Throws std::invalid_argument (parse_isa) when the first
/// call finds a bad NMT_CPU_ISA, and again on every later call until a valid ISA is set.
CpuIsa active_isa();

/// Makes `isa` the ISA of every later kernel call (for tests and benchmarks; callers must not run kernels on
/// other threads meanwhile). Throws std::invalid_argument when !isa_supported(isa).
void set_isa(CpuIsa isa);

/// Forces an ISA for its lifetime and restores the previous one (test helper: Catch2 GENERATE over
/// supported_isas()). Throws as set_isa.
class ScopedIsa {
 public:
  explicit ScopedIsa(CpuIsa isa);
  ~ScopedIsa();
  ScopedIsa(const ScopedIsa&) = delete;
  ScopedIsa& operator=(const ScopedIsa&) = delete;

 private:
  CpuIsa previous_;
};

}  // namespace nmt::kernels
