#pragma once
// Crash-safe file output: everything is written under a temporary name and renamed into place.

#include <string>
#include <vector>

namespace nmt::common {

/// Writes `text` to `path` atomically (path + ".tmp", flushed, then rename(2)).
/// Throws std::runtime_error naming the path on failure; the previous file stays intact.
void write_text_atomic(const std::string& path, const std::string& text);

/// Reads a whole file. Throws std::runtime_error naming the path when it is missing, a directory or unreadable.
std::string read_text(const std::string& path);

/// Reads the lines of a file (LF or CRLF, a UTF-8 BOM is dropped); the last line may lack a newline.
std::vector<std::string> read_lines(const std::string& path);

/// Replaces directory `dir` with the finished directory `staged` so that a kill at any moment leaves
/// either the old or the new one loadable: dir -> dir.old, staged -> dir, remove dir.old. A kill between the
/// two renames leaves only dir.old, which recover_directory() moves back.
/// Throws std::runtime_error naming the paths on failure.
void replace_directory(const std::string& staged, const std::string& dir);

/// If `dir` is missing but `dir.old` (left by an interrupted replace_directory) exists, renames it back.
/// Returns true when it recovered something. Throws std::runtime_error when the rename fails.
bool recover_directory(const std::string& dir);

}  // namespace nmt::common
