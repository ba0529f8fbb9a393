#include "common/logging.h"

#include <unistd.h>

#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace nmt::common {

void setup_logging(bool verbose) {
  auto logger = spdlog::stderr_color_mt("nmt");
  logger->set_pattern("%H:%M:%S %^%l%$ %v");
  logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  spdlog::set_default_logger(logger);
}

void set_log_rank(long long rank) {
  if (rank < 1) return;
  auto logger = spdlog::default_logger();
  logger->set_pattern("%H:%M:%S [rank " + std::to_string(rank) + "] %^%l%$ %v");
  if (logger->level() < spdlog::level::warn) logger->set_level(spdlog::level::warn);
}

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

}  // namespace nmt::common
