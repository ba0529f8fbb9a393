// Catch2 main for nmt_tests: picks the fast OpenBLAS kernels first, as the nmt executable does.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "common/blas.h"

int main(int argc, char** argv) {
  nmt::common::ensure_fast_blas(argc, argv);
  return Catch::Session().run(argc, argv);
}
