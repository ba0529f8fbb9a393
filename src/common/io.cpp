#include "common/io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace nmt::common {

namespace fs = std::filesystem;

namespace {

std::function<void(const std::string&)>& trace_hook() {
  static std::function<void(const std::string&)> hook;
  return hook;
}

void trace(const std::string& step) {
  if (trace_hook()) trace_hook()(step);
}

std::string errno_text() { return std::strerror(errno); }

/// fsync(2) on an open descriptor, retried on EINTR. Throws std::runtime_error naming `path`.
void fsync_fd(int fd, const std::string& path) {
  int rc;
  do rc = ::fsync(fd);
  while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const std::string why = errno_text();
    ::close(fd);
    throw std::runtime_error("cannot fsync " + path + ": " + why);
  }
}

/// Opens `path` with `flags`, fsyncs it and closes it.
void sync_path(const std::string& path, int flags) {
  trace("fsync " + path);
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + path + " to fsync it: " + errno_text());
  fsync_fd(fd, path);
  ::close(fd);
}

/// The directory holding `path` ("." for a bare file name).
std::string parent_of(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

void rename_traced(const std::string& from, const std::string& to) {
  trace("rename " + from + " " + to);
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) throw std::runtime_error("cannot rename " + from + " to " + to + ": " + ec.message());
}

/// fsyncs every regular file and directory under `dir` (depth first), then `dir` itself.
void sync_tree(const std::string& dir) {
  std::error_code ec;
  std::vector<fs::path> entries;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(it->path());
  if (ec) throw std::runtime_error("cannot list " + dir + ": " + ec.message());
  for (const fs::path& p : entries) {
    if (fs::is_directory(fs::symlink_status(p, ec))) sync_tree(p.string());
    else if (fs::is_regular_file(fs::symlink_status(p, ec))) sync_file(p.string());
  }
  sync_directory(dir);
}

}  // namespace

void set_io_trace(std::function<void(const std::string& step)> hook) { trace_hook() = std::move(hook); }

void sync_file(const std::string& path) { sync_path(path, O_RDONLY); }

void sync_directory(const std::string& dir) { sync_path(dir, O_RDONLY | O_DIRECTORY); }

void write_text_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) throw std::runtime_error("cannot write " + tmp + ": " + errno_text());
  const char* data = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = n < 0 ? errno_text() : std::string("nothing written");
      ::close(fd);
      ::unlink(tmp.c_str());
      throw std::runtime_error("error while writing " + tmp + ": " + why);
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  // Until the rename, a failure leaves `path` as it was and removes the temporary file (and closes it).
  bool open = true;
  try {
    trace("fsync " + tmp);
    fsync_fd(fd, tmp);
    open = false;
    if (::close(fd) != 0) throw std::runtime_error("error while closing " + tmp + ": " + errno_text());
    rename_traced(tmp, path);
  } catch (...) {
    if (open) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  sync_directory(parent_of(path));
}

std::string read_text(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw std::runtime_error("file not found: " + path);
  if (fs::is_directory(path, ec)) throw std::runtime_error(path + " is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream os;
  os << in.rdbuf();
  if (in.bad()) throw std::runtime_error("error while reading " + path);
  return os.str();
}

std::vector<std::string> read_lines(const std::string& path) {
  std::string text = read_text(path);
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

bool recover_directory(const std::string& dir) {
  std::error_code ec;
  const std::string old = dir + ".old";
  if (fs::exists(dir, ec) || !fs::is_directory(old, ec)) return false;
  rename_traced(old, dir);
  sync_directory(parent_of(dir));
  return true;
}

void replace_directory(const std::string& staged, const std::string& dir) {
  std::error_code ec;
  const std::string old = dir + ".old";
  sync_tree(staged);
  recover_directory(dir);
  if (fs::exists(old, ec)) {
    trace("remove " + old);
    fs::remove_all(old, ec);
    if (ec) throw std::runtime_error("cannot remove " + old + ": " + ec.message());
  }
  const bool had_dir = fs::exists(dir, ec);
  if (had_dir) rename_traced(dir, old);
  rename_traced(staged, dir);
  sync_directory(parent_of(dir));
  if (had_dir) {
    trace("remove " + old);
    fs::remove_all(old, ec);  // a leftover dir.old is harmless: the next replace_directory removes it
  }
}

TempDir::TempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("cannot create a temporary directory " + pattern + ": " + std::strerror(errno));
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace nmt::common
