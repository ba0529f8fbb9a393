// cli::LineStream on pipes and a pseudo-terminal: batches by size, by pause and at end of input; line endings.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "cli/line_stream.h"

using nmt::cli::LineStream;
using Lines = std::vector<std::string>;
using Clock = std::chrono::steady_clock;

namespace {

/// A pipe whose ends are closed on destruction; a watchdog closes the write end after 20 s, so that a reader
/// that waits for more than it should sees end of input (and the timing checks fail) instead of hanging.
class TestPipe {
 public:
  TestPipe() {
    REQUIRE(::pipe(fds_) == 0);
    write_fd_ = fds_[1];
    watchdog_ = std::thread([this, done = stop_.get_future()] {
      if (done.wait_for(std::chrono::seconds(20)) == std::future_status::timeout) close_write();
    });
  }
  ~TestPipe() {
    stop_.set_value();
    watchdog_.join();
    close_write();
    ::close(fds_[0]);
  }
  TestPipe(const TestPipe&) = delete;
  TestPipe& operator=(const TestPipe&) = delete;

  int read_fd() const { return fds_[0]; }
  /// Writes all of `text` to the write end; false when that fails (safe to call from another thread).
  bool write(const std::string& text) {
    const int fd = write_fd_;
    return fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  }
  /// Closes the write end (the reader then sees end of input); a second call does nothing.
  void close_write() {
    const int fd = write_fd_.exchange(-1);
    if (fd >= 0) ::close(fd);
  }

 private:
  int fds_[2] = {-1, -1};
  std::atomic<int> write_fd_{-1};
  std::promise<void> stop_;
  std::thread watchdog_;
};

/// Seconds since `start`.
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

TEST_CASE("LineStream hands out pending lines when the writer pauses, before end of input", "[cli][stream]") {
  TestPipe pipe;
  LineStream stream(pipe.read_fd(), 8, 50, "test pipe");
  REQUIRE(pipe.write("first line\nsecond\n"));
  auto start = Clock::now();
  CHECK(stream.next_batch() == Lines{"first line", "second"});
  const double waited = seconds_since(start);
  CHECK(waited >= 0.045);  // it waited for the 50 ms pause ...
  CHECK(waited < 5.0);     // ... and not for the watchdog's end of input
  CHECK(stream.lines_returned() == 2);

  REQUIRE(pipe.write("third\n"));
  start = Clock::now();
  CHECK(stream.next_batch() == Lines{"third"});
  CHECK(seconds_since(start) < 5.0);
  pipe.close_write();
  CHECK(stream.next_batch().empty());
  CHECK(stream.next_batch().empty());
  CHECK(stream.lines_returned() == 3);
}

TEST_CASE("LineStream returns a full batch at once, without waiting for a pause", "[cli][stream]") {
  TestPipe pipe;
  LineStream stream(pipe.read_fd(), 2, 60000, "test pipe");  // a pause would take a minute
  REQUIRE(pipe.write("1\n2\n3\n4\n5\n"));
  const auto start = Clock::now();
  CHECK(stream.next_batch() == Lines{"1", "2"});
  CHECK(stream.next_batch() == Lines{"3", "4"});
  CHECK(seconds_since(start) < 5.0);
  pipe.close_write();  // the fifth line leaves at end of input
  CHECK(stream.next_batch() == Lines{"5"});
  CHECK(stream.next_batch().empty());
  CHECK(stream.lines_returned() == 5);
}

TEST_CASE("LineStream: BOM, CRLF, empty lines and a last line without newline", "[cli][stream]") {
  TestPipe pipe;
  LineStream stream(pipe.read_fd(), 100, 60000, "test pipe");
  SECTION("the first line's BOM and every trailing CR go; a later BOM is text") {
    REQUIRE(pipe.write("\xEF\xBB\xBFhello\r\nworld\r\n\xEF\xBB\xBF" "again\n"));
    pipe.close_write();
    CHECK(stream.next_batch() == Lines{"hello", "world", "\xEF\xBB\xBF" "again"});
  }
  SECTION("empty lines keep their place") {
    REQUIRE(pipe.write("\n\nx\n\r\n\ny\n"));
    pipe.close_write();
    CHECK(stream.next_batch() == Lines{"", "", "x", "", "", "y"});
  }
  SECTION("a last line without newline counts; a final newline adds no line") {
    REQUIRE(pipe.write("a\nlast"));
    pipe.close_write();
    CHECK(stream.next_batch() == Lines{"a", "last"});
  }
  SECTION("no input, no lines") {
    pipe.close_write();
  }
  CHECK(stream.next_batch().empty());
}

TEST_CASE("LineStream joins lines, a BOM and CRLF split across reads", "[cli][stream]") {
  TestPipe pipe;
  LineStream stream(pipe.read_fd(), 100, 60000, "test pipe");
  const std::string text = "\xEF\xBB\xBFone\r\ntwo\r\n";
  std::thread writer([&] {
    for (char c : text) {
      if (!pipe.write(std::string(1, c))) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    pipe.close_write();
  });
  const Lines lines = stream.next_batch();
  writer.join();
  CHECK(lines == Lines{"one", "two"});
  CHECK(stream.next_batch().empty());
}

TEST_CASE("LineStream on a terminal returns each line as soon as it is complete", "[cli][stream]") {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0) {
    WARN("no pseudo-terminal here; skipped");
    return;
  }
  REQUIRE(::grantpt(master) == 0);
  REQUIRE(::unlockpt(master) == 0);
  const int slave = ::open(::ptsname(master), O_RDWR | O_NOCTTY);
  REQUIRE(slave >= 0);
  {
    LineStream stream(slave, 100, 60000, "test terminal");  // a pause would take a minute
    REQUIRE(::write(master, "hello\n", 6) == 6);
    const auto start = Clock::now();
    CHECK(stream.next_batch() == Lines{"hello"});
    REQUIRE(::write(master, "world\n", 6) == 6);
    CHECK(stream.next_batch() == Lines{"world"});
    CHECK(seconds_since(start) < 5.0);
  }
  ::close(slave);
  ::close(master);
}

TEST_CASE("LineStream rejects a batch size of 0 and a negative flush delay", "[cli][stream]") {
  CHECK_THROWS_AS(LineStream(0, 0, 100, "stdin"), std::invalid_argument);
  CHECK_THROWS_WITH(LineStream(0, 4, -1, "stdin"), Catch::Contains("stdin") && Catch::Contains("-1"));
}
