#include "kernels/cpu_isa.h"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include "kernels/kernel_table.h"

namespace nmt::kernels {

namespace {

/// The active table; null until the first active_table() / set_isa().
std::atomic<const KernelTable*> g_table{nullptr};
std::atomic<int> g_isa{-1};
std::mutex g_init_mutex;

const KernelTable& table_of(CpuIsa isa) {
#if NMT_KERNELS_X86
  if (isa == CpuIsa::kAvx512) return avx512::kTable;
  if (isa == CpuIsa::kAvx2) return avx2::kTable;
#endif
  return generic::kTable;
}

std::string supported_list() {
  std::string out;
  for (const CpuIsa isa : supported_isas()) out += (out.empty() ? "" : ", ") + std::string(isa_name(isa));
  return out;
}

void install(CpuIsa isa) {
  g_isa.store(static_cast<int>(isa), std::memory_order_relaxed);
  g_table.store(&table_of(isa), std::memory_order_release);
}

/// Decides the ISA from the environment on the first call (under g_init_mutex); throws on a bad NMT_CPU_ISA.
CpuIsa initialise() {
  std::lock_guard<std::mutex> lock(g_init_mutex);
  if (const int isa = g_isa.load(std::memory_order_relaxed); isa >= 0) return static_cast<CpuIsa>(isa);
  const char* value = std::getenv(kCpuIsaEnv);
  const CpuIsa isa = value != nullptr && *value != '\0' ? parse_isa(value) : best_isa();
  install(isa);
  return isa;
}

}  // namespace

const char* isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx512:
      return "avx512";
    case CpuIsa::kAvx2:
      return "avx2";
    case CpuIsa::kGeneric:
      break;
  }
  return "generic";
}

bool isa_supported(CpuIsa isa) {
  if (isa == CpuIsa::kGeneric) return true;
#if NMT_KERNELS_X86
  __builtin_cpu_init();
  if (isa == CpuIsa::kAvx2) return __builtin_cpu_supports("x86-64-v3") != 0;
  if (isa == CpuIsa::kAvx512) return __builtin_cpu_supports("x86-64-v4") != 0;
#endif
  return false;
}

std::vector<CpuIsa> supported_isas() {
  std::vector<CpuIsa> out;
  for (const CpuIsa isa : {CpuIsa::kGeneric, CpuIsa::kAvx2, CpuIsa::kAvx512})
    if (isa_supported(isa)) out.push_back(isa);
  return out;
}

CpuIsa best_isa() { return supported_isas().back(); }

CpuIsa parse_isa(const std::string& value) {
  for (const CpuIsa isa : {CpuIsa::kGeneric, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
    if (value != isa_name(isa)) continue;
    if (!isa_supported(isa))
      throw std::invalid_argument(std::string(kCpuIsaEnv) + "=" + value + ": this CPU or build does not support " +
                                  value + " (supported: " + supported_list() + ")");
    return isa;
  }
  throw std::invalid_argument(std::string(kCpuIsaEnv) + "=" + value +
                              ": unknown instruction set (expected generic, avx2 or avx512)");
}

CpuIsa active_isa() {
  const int isa = g_isa.load(std::memory_order_relaxed);
  return isa >= 0 ? static_cast<CpuIsa>(isa) : initialise();
}

void set_isa(CpuIsa isa) {
  if (!isa_supported(isa))
    throw std::invalid_argument(std::string("set_isa: this CPU or build does not support ") + isa_name(isa) +
                                " (supported: " + supported_list() + ")");
  std::lock_guard<std::mutex> lock(g_init_mutex);
  install(isa);
}

ScopedIsa::ScopedIsa(CpuIsa isa) : previous_(active_isa()) { set_isa(isa); }

ScopedIsa::~ScopedIsa() {
  std::lock_guard<std::mutex> lock(g_init_mutex);
  install(previous_);
}

const KernelTable& active_table() {
  const KernelTable* table = g_table.load(std::memory_order_acquire);
  if (table != nullptr) return *table;
  return table_of(initialise());
}

}  // namespace nmt::kernels
