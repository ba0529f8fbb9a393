#pragma once
// Reads text lines from a file descriptor in batches as they arrive, so that `nmt translate` can work as a
// filter: a batch is handed out when it is full, when the writer pauses, at end of input, or (on a terminal)
// as soon as a line is complete (the streaming rule of issue #15): batches while input flows, one line in and
// one line out when a caller writes a line and waits for its answer.

#include <chrono>
#include <cstddef>
#include <deque>
#include <string>
#include <vector>

namespace nmt::cli {

/// Splits the bytes read from a file descriptor into lines and hands them out in batches.
/// Lines are split at `\n`; a trailing `\r` is dropped (CRLF input), a UTF-8 byte order mark at the start of the
/// first line is dropped, and a last line without `\n` counts as a line. Empty lines are returned as "" in
/// their place. Memory: the lines not yet handed out (at most batch_size plus those of one read of
/// kReadBytes bytes) and one incomplete line.
class LineStream {
 public:
  /// Bytes asked for by one read(2).
  static constexpr std::size_t kReadBytes = 64 * 1024;

  /// Reads from `fd` (not owned, not closed). `batch_size` (>= 1): lines per batch at most; `flush_ms` (>= 0):
  /// milliseconds without new input after which the pending lines are handed out; `name` (e.g. "stdin" or a file
  /// path) starts error messages. When `fd` is a terminal (isatty(3)), every complete line is handed out at once.
  /// Throws std::invalid_argument when batch_size < 1 or flush_ms < 0.
  LineStream(int fd, std::size_t batch_size, int flush_ms, std::string name);

  /// Blocks until a batch is ready and returns it: batch_size lines as soon as that many are complete; fewer
  /// when input has paused for flush_ms with at least one complete line pending, when `fd` is a terminal, or
  /// at end of input. Returns an empty vector once input has ended and every line was returned.
  /// Throws std::runtime_error naming the stream when read(2) or poll(2) fails (EINTR is retried).
  std::vector<std::string> next_batch();

  /// Lines returned by next_batch so far (the 0-based index of the next line to be returned).
  std::size_t lines_returned() const { return returned_; }

 private:
  /// Reads once (read(2) of up to kReadBytes) and splits what came; sets eof_ on end of input.
  void read_some();
  /// Moves the complete lines of partial_ into pending_ (and, at end of input, the rest as a last line).
  void split_lines();
  /// Appends one line to pending_, dropping a trailing '\r' and, for the stream's first line, a UTF-8 BOM.
  void push_line(std::string line);
  /// Removes and returns up to batch_size_ lines from the front of pending_.
  std::vector<std::string> take();

  int fd_;
  std::size_t batch_size_;
  std::chrono::milliseconds flush_;
  std::string name_;
  bool interactive_;
  bool eof_ = false;
  bool first_line_ = true;
  std::string partial_;              ///< bytes after the last '\n' read so far
  std::deque<std::string> pending_;  ///< complete lines not yet returned
  std::chrono::steady_clock::time_point last_input_;  ///< when bytes last arrived
  std::size_t returned_ = 0;
};

}  // namespace nmt::cli
