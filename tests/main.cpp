// Catch2 main for nmt_tests: picks the fast OpenBLAS kernels first, as the nmt executable does.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <ATen/Parallel.h>

#include "common/blas.h"
#include "common/memory.h"

int main(int argc, char** argv) {
  nmt::common::ensure_fast_blas(argc, argv);
  nmt::common::tune_malloc();  // keep freed tensor memory mapped (common/memory.h)
  at::set_num_threads(1);  // measured fastest here: OpenBLAS runs its own threads
  return Catch::Session().run(argc, argv);
}
