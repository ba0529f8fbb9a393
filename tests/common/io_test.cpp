// Crash safety of common/io: the order of fsync and rename steps, and what a crash at each step leaves behind
// (simulated by a trace hook that throws before the step, as a kill would stop the process there).
#include "common/io.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace fs = std::filesystem;

namespace {

/// Records every step of common/io while alive; with `crash_at` >= 0, throws Crash before step number
/// `crash_at` (0-based) instead of letting it run.
struct Trace {
  struct Crash : std::runtime_error {
    Crash() : std::runtime_error("simulated crash") {}
  };
  std::vector<std::string> steps;
  explicit Trace(int crash_at = -1) {
    nmt::common::set_io_trace([this, crash_at](const std::string& step) {
      if (static_cast<int>(steps.size()) == crash_at) throw Crash();
      steps.push_back(step);
    });
  }
  ~Trace() { nmt::common::set_io_trace({}); }
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;
  /// Position of `step` in the trace; fails the test when absent.
  std::size_t at(const std::string& step) const {
    for (std::size_t i = 0; i < steps.size(); ++i)
      if (steps[i] == step) return i;
    FAIL("step not traced: " << step);
    return 0;
  }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// A checkpoint-like directory holding `marker` in two files and one subdirectory.
void make_dir(const fs::path& dir, const std::string& marker) {
  fs::create_directories(dir / "sub");
  std::ofstream(dir / "model.pt") << marker;
  std::ofstream(dir / "state.json") << marker;
  std::ofstream(dir / "sub" / "x.txt") << marker;
}

}  // namespace

TEST_CASE("write_text_atomic fsyncs the file before the rename and the directory after", "[io]") {
  const nmt::test::TempDir tmp("io_write");
  const std::string path = (tmp / "metrics.jsonl").string();
  Trace trace;
  nmt::common::write_text_atomic(path, "new\n");
  CHECK(trace.steps == std::vector<std::string>{"fsync " + path + ".tmp", "rename " + path + ".tmp " + path,
                                                "fsync " + tmp.path().string()});
  CHECK(slurp(path) == "new\n");
  CHECK_FALSE(fs::exists(path + ".tmp"));
}

TEST_CASE("a crash at any step of write_text_atomic leaves the old or the new file whole", "[io]") {
  const nmt::test::TempDir tmp("io_write_crash");
  const std::string path = (tmp / "state.json").string();
  for (int crash_at = 0; crash_at < 3; ++crash_at) {
    INFO("crash before step " << crash_at);
    std::ofstream(path, std::ios::trunc) << "old";
    {
      Trace trace(crash_at);
      CHECK_THROWS_AS(nmt::common::write_text_atomic(path, "new"), Trace::Crash);
    }
    // The rename (step 1) publishes the new text: before it the old file is intact.
    CHECK(slurp(path) == (crash_at <= 1 ? "old" : "new"));
    CHECK_FALSE(fs::exists(path + ".tmp"));  // an error before the rename removes the temporary file
  }
}

TEST_CASE("replace_directory fsyncs everything staged before publishing it", "[io]") {
  const nmt::test::TempDir tmp("io_replace");
  const std::string dir = (tmp / "latest").string(), staged = dir + ".tmp", old = dir + ".old";
  make_dir(dir, "old");
  make_dir(staged, "new");
  Trace trace;
  nmt::common::replace_directory(staged, dir);
  CHECK(slurp(fs::path(dir) / "model.pt") == "new");
  CHECK_FALSE(fs::exists(staged));
  CHECK_FALSE(fs::exists(old));
  const std::size_t aside = trace.at("rename " + dir + " " + old);
  const std::size_t publish = trace.at("rename " + staged + " " + dir);
  const std::size_t staged_dir = trace.at("fsync " + staged);
  for (const std::string f : {"/model.pt", "/state.json", "/sub/x.txt", "/sub"})
    CHECK(trace.at("fsync " + staged + f) < staged_dir);
  CHECK(staged_dir < aside);
  CHECK(aside < publish);
  const std::size_t parent = trace.at("fsync " + tmp.path().string());
  CHECK(publish < parent);
  CHECK(parent < trace.at("remove " + old));
}

TEST_CASE("a crash at any step of replace_directory leaves a loadable directory", "[io]") {
  const nmt::test::TempDir tmp("io_replace_crash");
  const std::string dir = (tmp / "best").string(), staged = dir + ".tmp";
  std::size_t steps = 0;
  {  // count the steps of an uninterrupted replacement
    make_dir(dir, "old");
    make_dir(staged, "new");
    Trace trace;
    nmt::common::replace_directory(staged, dir);
    steps = trace.steps.size();
  }
  REQUIRE(steps >= 8);
  for (int crash_at = 0; crash_at < static_cast<int>(steps); ++crash_at) {
    INFO("crash before step " << crash_at);
    fs::remove_all(tmp.path());
    fs::create_directories(tmp.path());
    make_dir(dir, "old");
    make_dir(staged, "new");
    std::vector<std::string> done;
    {
      Trace trace(crash_at);
      CHECK_THROWS_AS(nmt::common::replace_directory(staged, dir), Trace::Crash);
      done = trace.steps;
    }
    // What the next reader does: move an orphaned dir.old back, then read dir.
    nmt::common::recover_directory(dir);
    const bool published = std::find(done.begin(), done.end(), "rename " + staged + " " + dir) != done.end();
    const std::string expect = published ? "new" : "old";
    CHECK(slurp(fs::path(dir) / "model.pt") == expect);
    CHECK(slurp(fs::path(dir) / "state.json") == expect);
    CHECK(slurp(fs::path(dir) / "sub" / "x.txt") == expect);
    // And the next writer succeeds whatever was left over.
    fs::remove_all(staged);
    make_dir(staged, "next");
    nmt::common::replace_directory(staged, dir);
    CHECK(slurp(fs::path(dir) / "model.pt") == "next");
    CHECK_FALSE(fs::exists(dir + ".old"));
  }
}

TEST_CASE("replace_directory publishes a first directory and recover_directory restores an orphan", "[io]") {
  const nmt::test::TempDir tmp("io_first");
  const std::string dir = (tmp / "latest").string();
  make_dir(dir + ".tmp", "first");
  nmt::common::replace_directory(dir + ".tmp", dir);
  CHECK(slurp(fs::path(dir) / "model.pt") == "first");
  fs::rename(dir, dir + ".old");
  Trace trace;
  CHECK(nmt::common::recover_directory(dir));
  CHECK(trace.steps == std::vector<std::string>{"rename " + dir + ".old " + dir, "fsync " + tmp.path().string()});
  CHECK(slurp(fs::path(dir) / "model.pt") == "first");
  CHECK_FALSE(nmt::common::recover_directory(dir));
}

TEST_CASE("sync_file and sync_directory name a missing path", "[io]") {
  const nmt::test::TempDir tmp("io_sync");
  const std::string missing = (tmp / "nope").string();
  CHECK_THROWS_WITH(nmt::common::sync_file(missing), Catch::Contains(missing));
  CHECK_THROWS_AS(nmt::common::sync_directory(missing), std::runtime_error);
  std::ofstream(tmp / "file") << "x";
  CHECK_NOTHROW(nmt::common::sync_file((tmp / "file").string()));
  CHECK_NOTHROW(nmt::common::sync_directory(tmp.path().string()));
  CHECK_THROWS_AS(nmt::common::sync_directory((tmp / "file").string()), std::runtime_error);  // not a directory
}
