// Catch2 main for nmt_plot_tests: the drawing tests, which need neither LibTorch nor BLAS set-up.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
