#include "common/blas.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include <ATen/Parallel.h>

namespace nmt::common {
namespace {

constexpr const char* kCoreTypeEnv = "OPENBLAS_CORETYPE";
constexpr const char* kReexecEnv = "NMT_BLAS_REEXEC";
constexpr const char* kReexecDone = "1";                // re-executed with OPENBLAS_CORETYPE set by us
constexpr const char* kReexecTimeoutOnly = "thread-timeout";  // re-executed for the thread timeout alone
constexpr const char* kThreadTimeoutEnv = "OPENBLAS_THREAD_TIMEOUT";
constexpr const char* kReexecFailedPrefix = "failed";

std::string to_lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_one_of(const std::string& core, std::initializer_list<const char*> names) {
  const std::string lower = to_lower(core);
  for (const char* name : names) {
    if (lower == to_lower(name)) return true;
  }
  return false;
}

std::optional<std::string> env_value(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

}  // namespace

CpuFeatures detect_cpu_features() {
  CpuFeatures cpu;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  cpu.avx512f = __builtin_cpu_supports("avx512f") != 0;
  cpu.avx2 = __builtin_cpu_supports("avx2") != 0;
  cpu.fma = __builtin_cpu_supports("fma") != 0;
#endif
  return cpu;
}

std::string cpu_features_string(const CpuFeatures& cpu) {
  std::string out;
  auto add = [&out](bool present, const char* name) {
    if (!present) return;
    if (!out.empty()) out += ' ';
    out += name;
  };
  add(cpu.avx512f, "avx512f");
  add(cpu.avx2, "avx2");
  add(cpu.fma, "fma");
  return out.empty() ? "none" : out;
}

std::string openblas_core_name() {
  using CoreNameFn = char* (*)();
  void* sym = dlsym(RTLD_DEFAULT, "openblas_get_corename");
  if (sym == nullptr) return "";
  const char* name = reinterpret_cast<CoreNameFn>(sym)();
  return name == nullptr ? std::string() : std::string(name);
}

int openblas_num_threads() {
  using NumThreadsFn = int (*)();
  void* sym = dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
  if (sym == nullptr) return -1;
  return reinterpret_cast<NumThreadsFn>(sym)();
}

int kernel_threads() {
  static const int threads = [] {
    const int blas = openblas_num_threads();
    return std::max(1, blas > 0 ? blas : at::get_num_threads());
  }();
  return threads;
}

std::optional<std::string> choose_openblas_core(const CpuFeatures& cpu,
                                                const std::string& detected_core,
                                                const std::optional<std::string>& user_value) {
  if (user_value.has_value()) return std::nullopt;
  if (detected_core.empty()) return std::nullopt;
  if (cpu.avx512f) {
    if (is_one_of(detected_core, {"SkylakeX", "Cooperlake", "SapphireRapids"})) return std::nullopt;
    return std::string("SkylakeX");
  }
  if (cpu.avx2 && cpu.fma) {
    if (is_one_of(detected_core, {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"})) {
      return std::nullopt;
    }
    return std::string("Haswell");
  }
  return std::nullopt;
}

std::optional<std::string> choose_openblas_thread_timeout(bool is_openblas, int threads,
                                                          const std::optional<std::string>& user_value) {
  if (user_value.has_value() || !is_openblas || threads < 2) return std::nullopt;
  return std::string("4");
}

void ensure_fast_blas(int argc, char** argv) {
  if (argc < 1 || argv == nullptr || argv[0] == nullptr) return;
  if (std::getenv(kReexecEnv) != nullptr) return;  // already re-executed (or tried): never loop
  const std::string detected = openblas_core_name();
  const std::optional<std::string> core =
      choose_openblas_core(detect_cpu_features(), detected, env_value(kCoreTypeEnv));
  const std::optional<std::string> timeout =
      choose_openblas_thread_timeout(!detected.empty(), openblas_num_threads(), env_value(kThreadTimeoutEnv));
  if (!core && !timeout) return;
  auto undo = [&] {
    if (core) unsetenv(kCoreTypeEnv);
    if (timeout) unsetenv(kThreadTimeoutEnv);
  };
  if ((core && setenv(kCoreTypeEnv, core->c_str(), 1) != 0) ||
      (timeout && setenv(kThreadTimeoutEnv, timeout->c_str(), 1) != 0) ||
      setenv(kReexecEnv, core ? kReexecDone : kReexecTimeoutOnly, 1) != 0) {
    undo();
    return;
  }
  execv("/proc/self/exe", argv);
  // Only reached when exec failed: keep OpenBLAS's choices, remember why for blas_info().
  const std::string reason = std::string(kReexecFailedPrefix) + ": " + std::strerror(errno);
  undo();
  setenv(kReexecEnv, reason.c_str(), 1);
}

nlohmann::json BlasInfo::to_json() const {
  nlohmann::json j = {{"core", core},
                      {"chosen_by", chosen_by},
                      {"cpu_features", cpu_features},
                      {"openblas_threads", openblas_threads},
                      {"openblas_thread_timeout", thread_timeout}};
  if (!note.empty()) j["note"] = note;
  return j;
}

std::string BlasInfo::describe() const {
  std::string out = core.empty() ? std::string("BLAS is not OpenBLAS") : "OpenBLAS core " + core;
  out += " (cpu: " + cpu_features + "; chosen by " + chosen_by;
  out += ")";
  if (!note.empty()) out += " [" + note + "]";
  return out;
}

BlasInfo blas_info() {
  BlasInfo info;
  info.core = openblas_core_name();
  info.cpu_features = cpu_features_string(detect_cpu_features());
  info.openblas_threads = openblas_num_threads();
  info.thread_timeout = env_value(kThreadTimeoutEnv).value_or("");
  const std::optional<std::string> reexec = env_value(kReexecEnv);
  const bool coretype_set = std::getenv(kCoreTypeEnv) != nullptr;
  if (reexec && *reexec == kReexecDone && coretype_set) {
    info.chosen_by = "auto";
  } else if (coretype_set) {
    info.chosen_by = "user";
  } else {
    info.chosen_by = "openblas";
  }
  if (reexec && reexec->rfind(kReexecFailedPrefix, 0) == 0) {
    info.note = "re-exec with OpenBLAS settings " + *reexec;
  }
  return info;
}

}  // namespace nmt::common
