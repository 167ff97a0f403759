// Copyright 2026 The ragperf Authors.

#include "ragperf/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ragperf {
namespace {

absl::Status ErrnoError(absl::string_view step, const std::string& path,
                        int err) {
  const std::string message =
      absl::StrCat(step, " '", path, "': ", std::strerror(err));
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    default:
      return absl::InternalError(message);
  }
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents) {
  if (path.empty()) return absl::InvalidArgumentError("empty file path");
  std::string tmpl = absl::StrCat(path, ".tmp.XXXXXX");
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  const int fd = mkstemp(name.data());
  if (fd < 0) return ErrnoError("cannot create a temporary file next to", path, errno);
  const std::string tmp_path(name.data());
  // mkstemp creates 0600; exports are ordinary files others may read.
  const mode_t umask_now = umask(0);
  umask(umask_now);
  fchmod(fd, 0666 & ~umask_now);

  auto fail = [&](absl::string_view step, int err) {
    close(fd);
    unlink(tmp_path.c_str());
    return ErrnoError(step, path, err);
  };
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n =
        write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write", errno);
    }
    written += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) return fail("cannot fsync", errno);
  if (close(fd) != 0) {
    const int err = errno;
    unlink(tmp_path.c_str());
    return ErrnoError("cannot close", path, err);
  }
  if (rename(tmp_path.c_str(), path.c_str()) != 0) {
    const int err = errno;
    unlink(tmp_path.c_str());
    return ErrnoError("cannot rename a temporary file onto", path, err);
  }
  // Best effort: the data is already safe; this makes the rename durable.
  const int dir_fd = open(DirectoryOf(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
  return absl::OkStatus();
}

}  // namespace ragperf
