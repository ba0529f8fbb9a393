// The fused loops for the baseline instruction set (no target attribute: the compiler's default, x86-64 with SSE2
// on amd64); the fallback on every CPU.
#define NMT_KERNELS_ISA generic
#define NMT_KERNEL_TARGET
#include "kernels/kernels_loops.inc"
