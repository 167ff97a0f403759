// Copyright 2026 The ragperf Authors.

#include "ragperf/atomic_file.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ragperf {
namespace {

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ragperf_atomic_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const std::string& name : List()) unlink((dir_ + "/" + name).c_str());
    chmod(dir_.c_str(), 0700);
    rmdir(dir_.c_str());
  }
  std::vector<std::string> List() const {
    std::vector<std::string> names;
    DIR* d = opendir(dir_.c_str());
    if (d == nullptr) return names;
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
    return names;
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::string dir_;
};

TEST_F(AtomicFileTest, WritesAndReplaces) {
  const std::string path = dir_ + "/metrics.json";
  ASSERT_TRUE(WriteFileAtomically(path, "first").ok());
  EXPECT_EQ(Read(path), "first");
  ASSERT_TRUE(WriteFileAtomically(path, "second, longer").ok());
  EXPECT_EQ(Read(path), "second, longer");
  // No temporary files left behind.
  EXPECT_EQ(List(), std::vector<std::string>{"metrics.json"});
}

TEST_F(AtomicFileTest, FileIsReadableByOthersPerUmask) {
  const std::string path = dir_ + "/m.json";
  const mode_t old = umask(022);
  ASSERT_TRUE(WriteFileAtomically(path, "x").ok());
  umask(old);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST_F(AtomicFileTest, MissingDirectoryIsNotFoundAndNamesPath) {
  const std::string path = dir_ + "/no/such/dir/m.json";
  const absl::Status s = WriteFileAtomically(path, "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.message().find(path), absl::string_view::npos);
}

TEST_F(AtomicFileTest, UnwritableDirectoryKeepsPreviousFile) {
  if (geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  const std::string path = dir_ + "/m.json";
  ASSERT_TRUE(WriteFileAtomically(path, "old").ok());
  ASSERT_EQ(chmod(dir_.c_str(), 0500), 0);
  const absl::Status s = WriteFileAtomically(path, "new");
  chmod(dir_.c_str(), 0700);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Read(path), "old");
}

TEST_F(AtomicFileTest, TargetIsADirectoryFailsAndCleansUp) {
  const std::string path = dir_ + "/sub";
  ASSERT_EQ(mkdir(path.c_str(), 0700), 0);
  const absl::Status s = WriteFileAtomically(path, "x");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path), absl::string_view::npos);
  EXPECT_EQ(List(), std::vector<std::string>{"sub"});
  rmdir(path.c_str());
}

TEST_F(AtomicFileTest, EmptyPathIsInvalid) {
  EXPECT_EQ(WriteFileAtomically("", "x").code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ragperf
