#pragma once
// Test helper: a scratch directory whose name no other test process uses, removed when the object goes out
// of scope. ctest -j runs test cases as separate processes at the same time (and several checkouts may run
// their suites on one machine), so fixed names under the temporary directory would race.

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

namespace nmt::test {

class TempDir {
 public:
  /// Creates (empty) `<temp>/nmt_<label>_<pid>_<n>`, n counting the TempDirs of this process.
  explicit TempDir(const std::string& label) {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("nmt_" + label + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  /// `path() / name`, as a filesystem path.
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace nmt::test
