#pragma once
// Internal to src/kernels: one table of loop entry points per instruction-set build, and the active one.

#include <cstdint>

/// Whether this compiler and target build the AVX2 and AVX-512 variants (x86-64 with GCC-style target
/// attributes); elsewhere only the generic loops exist.
#if defined(__GNUC__) && defined(__x86_64__)
#define NMT_KERNELS_X86 1
#else
#define NMT_KERNELS_X86 0
#endif

namespace nmt::kernels {

/// Entry points of one build of the loops (kernels_loops.inc); the signatures and meanings are those of the
/// functions of the same name in kernels/kernels.h. `argmax_blocks` is one thread's share of projected_argmax:
/// vocabulary blocks [first_block, last_block) of `block` entries, over `tiles` tiles of 16 rows whose features
/// `xt` are transposed to [tile][k][16]; running maxima and word ids in `best`/`index` (tiles × 16 each).
struct KernelTable {
  float (*softmax_cross_entropy_row)(const float*, const float*, float*, int64_t, int64_t, float);
  void (*masked_softmax_rows)(const float*, const int64_t*, float*, int64_t, int64_t, float);
  void (*masked_softmax_backward_rows)(const float*, const float*, const int64_t*, float*, int64_t, int64_t, float);
  void (*matmul_nn)(const float*, const float*, float*, int64_t, int64_t, int64_t, int64_t);
  void (*matmul_nt)(const float*, const float*, float*, int64_t, int64_t, int64_t, int64_t);
  void (*matmul_tn)(const float*, const float*, float*, int64_t, int64_t, int64_t, int64_t);
  void (*argmax_blocks)(const float* xt, const float* weight, const float* bias, int64_t tiles, int64_t k,
                        int64_t vocab, int64_t block, int64_t first_block, int64_t last_block, float* best,
                        int32_t* index);
  void (*additive_tanh)(const float*, const float*, float*, int64_t, int64_t, int64_t, int64_t);
  void (*adam_update)(float*, const float*, float*, float*, int64_t, float, float, float, float, float, float, float);
  double (*sum_of_squares)(const float*, int64_t);
  void (*dropout_mask)(float*, int64_t, uint64_t, int64_t, float);
};

namespace generic {
extern const KernelTable kTable;  ///< baseline x86-64 (SSE2) or the target's default instruction set
}
#if NMT_KERNELS_X86
namespace avx2 {
extern const KernelTable kTable;  ///< x86-64-v3: AVX2, FMA, BMI2
}
namespace avx512 {
extern const KernelTable kTable;  ///< x86-64-v4: AVX-512 F/BW/CD/DQ/VL
}
#endif

/// The table of the ISA in use (cpu_isa.h: NMT_CPU_ISA or the best the CPU supports), chosen on the first call.
/// Throws std::invalid_argument on the first call when NMT_CPU_ISA is invalid (see cpu_isa.h).
const KernelTable& active_table();

}  // namespace nmt::kernels
