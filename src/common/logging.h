#pragma once
// Logging set-up: spdlog to stderr; messages carry an area prefix such as "[train]".

namespace nmt::common {

/// Installs a stderr logger ("HH:MM:SS message"; warnings and errors marked). `verbose` enables debug level.
void setup_logging(bool verbose);

/// Marks this process as rank `rank` of a distributed run: for rank >= 1, messages start with "[rank N]" and
/// only warnings and errors are shown (rank 0 logs the run).
void set_log_rank(long long rank);
/// True when stderr is a terminal (live progress lines are drawn only then).
bool stderr_is_terminal();

}  // namespace nmt::common
