#pragma once
// Test helper: run a shell command line and capture its standard output.

#include <sys/wait.h>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace nmt::test {

struct ShellResult {
  int code = -1;    ///< exit status (-1 when killed by a signal)
  std::string out;  ///< standard output (redirect stderr in `command` to capture it too)
};

/// Runs `command` with /bin/sh. Throws std::runtime_error when the shell cannot be started.
inline ShellResult run_shell(const std::string& command) {
  ShellResult r;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run: " + command);
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.out.append(buf, n);
  const int status = pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace nmt::test
