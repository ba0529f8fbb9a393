#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

/// \file
/// Choosing fast OpenBLAS kernels at start-up.
///
/// Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not recognise recent CPUs and falls back to the
/// generic `Prescott` kernels (about 5x slower sgemm on an AVX-512 machine). OpenBLAS reads the
/// environment variable `OPENBLAS_CORETYPE` only once, when the library is loaded, so the fix is
/// to compare the CPU's features with the core OpenBLAS picked at the very start of `main()` and,
/// when better kernels are available, re-execute the program once with the variable set.
/// Source: OpenBLAS `driver/others/dynamic.c` (core selection, `OPENBLAS_CORETYPE`).
/// A value of `OPENBLAS_CORETYPE` set by the user always wins.

namespace nmt::common {

/// SIMD features of the running CPU that matter for the choice of OpenBLAS kernels.
struct CpuFeatures {
  bool avx512f = false;  ///< AVX-512 Foundation (usable: CPU and OS support, per libgcc).
  bool avx2 = false;     ///< AVX2.
  bool fma = false;      ///< FMA3.
};

/// Reads the running CPU's features with `__builtin_cpu_supports` (which also checks that the OS
/// saves the wide registers). Never throws.
CpuFeatures detect_cpu_features();

/// Space-separated list of the features that are present, e.g. "avx512f avx2 fma"; "none" when
/// none is. Never throws.
std::string cpu_features_string(const CpuFeatures& cpu);

/// Name of the core OpenBLAS picked (e.g. "Prescott", "SkylakeX"), looked up at run time through
/// `dlsym(RTLD_DEFAULT, "openblas_get_corename")`; "" when the BLAS in use is not OpenBLAS (the
/// symbol is absent). Never throws.
std::string openblas_core_name();

/// Number of threads OpenBLAS uses (`openblas_get_num_threads` via dlsym); -1 when the BLAS in
/// use is not OpenBLAS. Never throws.
int openblas_num_threads();

/// Threads for nmt's own CPU loops (kernels/kernels.h, called by src/ops: greedy search's projection, the loss
/// rows, dropout masks, the Adam update; kernels/parallel.h's pool runs them): as many as OpenBLAS runs, whose
/// workers are idle between GEMMs, or LibTorch's intra-op thread count when the BLAS is not OpenBLAS; at least 1. Looked up once per process. Never throws.
int kernel_threads();

/// Pure decision: which `OPENBLAS_CORETYPE` to force, or nullopt to leave OpenBLAS's choice.
///
/// - `user_value` (the environment variable when set, even to "") always wins -> nullopt.
/// - `detected_core` "" (the BLAS is not OpenBLAS) -> nullopt.
/// - CPU with AVX-512F -> "SkylakeX", unless `detected_core` is already an AVX-512 core
///   (SkylakeX, Cooperlake, SapphireRapids).
/// - CPU with AVX2 and FMA -> "Haswell", unless `detected_core` is already Haswell-class or
///   better (Haswell, Zen, SkylakeX, Cooperlake, SapphireRapids).
/// - otherwise nullopt. Never picks kernels the CPU lacks.
/// Core names are compared case-insensitively (non-DYNAMIC_ARCH builds report "HASWELL").
/// Never throws.
std::optional<std::string> choose_openblas_core(const CpuFeatures& cpu,
                                                const std::string& detected_core,
                                                const std::optional<std::string>& user_value);

/// Pure decision: which `OPENBLAS_THREAD_TIMEOUT` to set, or nullopt to leave OpenBLAS's default.
///
/// After each threaded call, OpenBLAS's idle workers spin for 2^28 cycles (~0.1 s) by default before they
/// sleep; nmt's own threads (greedy search's fused projection + arg-max, kernels/parallel.h) then share the
/// cores with them. "4" (2^4 cycles: sleep at once) made batched greedy decoding of the 256-hidden GRUs
/// 1.4-1.6x faster here and left training steps unchanged within noise (`nmt_step_profile`, back to back).
/// - `user_value` (the environment variable when set) always wins -> nullopt.
/// - not OpenBLAS, or fewer than 2 `threads` -> nullopt. Otherwise "4". Never throws.
std::optional<std::string> choose_openblas_thread_timeout(bool is_openblas, int threads,
                                                          const std::optional<std::string>& user_value);

/// To be called first thing in `main()`, before any other work (threads, files, logging).
///
/// OpenBLAS reads its environment when it loads, so settings take a re-execution. When
/// `choose_openblas_core(detect_cpu_features(), openblas_core_name(), $OPENBLAS_CORETYPE)` gives a core
/// or `choose_openblas_thread_timeout(...)` a timeout, and `NMT_BLAS_REEXEC` is not set, sets
/// `OPENBLAS_CORETYPE` / `OPENBLAS_THREAD_TIMEOUT` and `NMT_BLAS_REEXEC` (`1` when the core was set,
/// `thread-timeout` otherwise) and replaces the process with `execv("/proc/self/exe", argv)`; it then
/// does not return. Otherwise returns at once. Never loops (the re-executed program sees
/// `NMT_BLAS_REEXEC`). When exec fails the variables are put back, `NMT_BLAS_REEXEC` records
/// the failure, and the program continues silently with OpenBLAS's choices; `blas_info().note`
/// reports it for the logs. `argv` must be `main`'s null-terminated argument vector. Never throws.
void ensure_fast_blas(int argc, char** argv);

/// Which BLAS kernels are in use, for logs and timing.jsonl.
struct BlasInfo {
  std::string core;          ///< `openblas_core_name()`, "" when the BLAS is not OpenBLAS.
  std::string chosen_by;     ///< "user" ($OPENBLAS_CORETYPE set by the user), "auto" (we
                             ///< re-executed with it), "openblas" (OpenBLAS's own choice).
  std::string cpu_features;  ///< `cpu_features_string(detect_cpu_features())`.
  int openblas_threads = -1; ///< `openblas_num_threads()`.
  std::string thread_timeout; ///< $OPENBLAS_THREAD_TIMEOUT (log2 of idle spin cycles), "" = OpenBLAS's default.
  std::string note;          ///< "" or a problem to log (e.g. "re-exec failed: ...").

  /// {"core","chosen_by","cpu_features","openblas_threads","openblas_thread_timeout"} plus "note" when not empty.
  nlohmann::json to_json() const;
  /// One line, e.g. "OpenBLAS core SkylakeX (cpu: avx512f avx2 fma; chosen by auto)", or
  /// "BLAS is not OpenBLAS (cpu: ...)".
  std::string describe() const;
};

/// Collects the BlasInfo of the running process (reads the environment and OpenBLAS).
/// Never throws.
BlasInfo blas_info();

}  // namespace nmt::common
