#pragma once
// Crash-safe file output: everything is written under a temporary name, flushed to disk with fsync(2), and
// only then published by rename(2), whose directory entry is fsynced too. After a crash or power loss a
// reader finds either the previous complete file (or directory) or the new complete one, never a torn one.

#include <functional>
#include <string>
#include <vector>

namespace nmt::common {

/// Writes `text` to `path` atomically and durably: path + ".tmp" is written and fsynced, renamed to `path`,
/// and the parent directory is fsynced so that the rename survives a crash.
/// Throws std::runtime_error naming the path on failure; the previous file stays intact.
void write_text_atomic(const std::string& path, const std::string& text);

/// Flushes a file's data and metadata to disk (fsync(2)). Throws std::runtime_error naming the path when it
/// cannot be opened or synced.
void sync_file(const std::string& path);

/// Flushes a directory's entries (names created, renamed or removed in it) to disk (fsync(2) on the
/// directory). Throws std::runtime_error naming the path when it cannot be opened or synced.
void sync_directory(const std::string& dir);

/// Reads a whole file. Throws std::runtime_error naming the path when it is missing, a directory or unreadable.
std::string read_text(const std::string& path);

/// Reads the lines of a file (LF or CRLF, a UTF-8 BOM is dropped); the last line may lack a newline.
std::vector<std::string> read_lines(const std::string& path);

/// Replaces directory `dir` with the finished directory `staged` (a sibling of `dir`, e.g. `dir.tmp`) so that
/// a crash or kill at any moment leaves either the old or the new one loadable:
///   1. fsync every file and directory under `staged`, then `staged` itself (its contents are on disk);
///   2. rename dir -> dir.old (when dir exists), rename staged -> dir, fsync the parent directory (published);
///   3. remove dir.old.
/// A crash between the two renames leaves only dir.old, which recover_directory() moves back; a crash before
/// them leaves the old `dir` and a stale `staged`, which the next writer replaces.
/// Throws std::runtime_error naming the paths on failure.
void replace_directory(const std::string& staged, const std::string& dir);

/// If `dir` is missing but `dir.old` (left by an interrupted replace_directory) exists, renames it back and
/// fsyncs the parent directory. Returns true when it recovered something. Throws std::runtime_error when the
/// rename fails.
bool recover_directory(const std::string& dir);

/// Test hook for fault injection: when set, the functions above call `hook` with "fsync PATH",
/// "rename FROM TO" or "remove PATH" just before each such step, in order; a hook that throws stops the
/// operation there, as a crash would. Pass an empty function to remove it. Not thread-safe: set it only
/// while no other thread writes files.
void set_io_trace(std::function<void(const std::string& step)> hook);

/// A new private directory (mode 0700, mkdtemp(3)) under $TMPDIR or /tmp, named PREFIX-XXXXXX; removed with
/// its contents when the object is destroyed. Throws std::runtime_error naming the path when it cannot be made.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace nmt::common
