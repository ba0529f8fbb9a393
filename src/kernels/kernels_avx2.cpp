// The fused loops for x86-64-v3 (AVX2 + FMA), through GCC's target attribute: the same code generation as
// the `target_clones("arch=x86-64-v3")` clone this replaces. Only on x86-64 (kernels/kernel_table.h).
#include "kernels/kernel_table.h"
#if NMT_KERNELS_X86
#define NMT_KERNELS_ISA avx2
#define NMT_KERNEL_TARGET __attribute__((target("arch=x86-64-v3")))
#include "kernels/kernels_loops.inc"
#endif
