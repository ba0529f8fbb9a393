#include "cli/line_stream.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace nmt::cli {

LineStream::LineStream(int fd, std::size_t batch_size, int flush_ms, std::string name)
    : fd_(fd), batch_size_(batch_size), flush_(flush_ms), name_(std::move(name)), interactive_(isatty(fd) == 1) {
  if (batch_size < 1) throw std::invalid_argument(name_ + ": the batch size must be >= 1, got 0");
  if (flush_ms < 0)
    throw std::invalid_argument(name_ + ": the flush delay must be >= 0 ms, got " + std::to_string(flush_ms));
  last_input_ = std::chrono::steady_clock::now();
}

void LineStream::push_line(std::string line) {
  if (first_line_ && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
  first_line_ = false;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  pending_.push_back(std::move(line));
}

void LineStream::split_lines() {
  std::size_t start = 0;
  for (std::size_t end; (end = partial_.find('\n', start)) != std::string::npos; start = end + 1)
    push_line(partial_.substr(start, end - start));
  partial_.erase(0, start);
  if (eof_ && !partial_.empty()) {  // a last line without '\n'
    push_line(std::move(partial_));
    partial_.clear();
  }
}

void LineStream::read_some() {
  char buffer[kReadBytes];
  for (;;) {
    const ssize_t n = ::read(fd_, buffer, sizeof buffer);
    if (n > 0) {
      last_input_ = std::chrono::steady_clock::now();
      partial_.append(buffer, static_cast<std::size_t>(n));
      break;
    }
    if (n == 0) {
      eof_ = true;
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;  // a non-blocking fd with nothing to read yet
    throw std::runtime_error("cannot read " + name_ + ": " + std::strerror(errno));
  }
  split_lines();
}

std::vector<std::string> LineStream::take() {
  const std::size_t n = std::min(batch_size_, pending_.size());
  std::vector<std::string> batch(std::make_move_iterator(pending_.begin()),
                                 std::make_move_iterator(pending_.begin() + static_cast<std::ptrdiff_t>(n)));
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
  returned_ += n;
  return batch;
}

std::vector<std::string> LineStream::next_batch() {
  using Clock = std::chrono::steady_clock;
  for (;;) {
    if (pending_.size() >= batch_size_ || eof_ || (interactive_ && !pending_.empty())) return take();
    // Wait for input: without a pending line, as long as it takes; with one, until input has paused for flush_
    // (input that is already there is read first, even when the pause is over).
    int timeout_ms = -1;
    if (!pending_.empty()) {
      const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - last_input_);
      timeout_ms = waited >= flush_ ? 0 : static_cast<int>((flush_ - waited).count());
    }
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("cannot wait for input on " + name_ + ": " + std::strerror(errno));
    }
    if (ready == 0) {  // input paused for flush_ with lines pending
      if (!pending_.empty()) return take();
      continue;
    }
    if (p.revents & POLLNVAL) throw std::runtime_error("cannot read " + name_ + ": not an open file descriptor");
    read_some();  // POLLIN, POLLHUP or POLLERR: read(2) tells data, end of input or the error
  }
}

}  // namespace nmt::cli
