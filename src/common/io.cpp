#include "common/io.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace nmt::common {

namespace fs = std::filesystem;

void write_text_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + tmp);
    out << text;
    out.flush();
    if (!out) throw std::runtime_error("error while writing " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + ec.message());
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
  fs::rename(old, dir, ec);
  if (ec) throw std::runtime_error("cannot move " + old + " back to " + dir + ": " + ec.message());
  return true;
}

void replace_directory(const std::string& staged, const std::string& dir) {
  std::error_code ec;
  const std::string old = dir + ".old";
  recover_directory(dir);
  fs::remove_all(old, ec);
  if (fs::exists(dir)) {
    fs::rename(dir, old, ec);
    if (ec) throw std::runtime_error("cannot move " + dir + " aside: " + ec.message());
  }
  fs::rename(staged, dir, ec);
  if (ec) throw std::runtime_error("cannot rename " + staged + " to " + dir + ": " + ec.message());
  fs::remove_all(old, ec);
}

}  // namespace nmt::common
