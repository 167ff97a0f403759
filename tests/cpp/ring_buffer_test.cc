// Copyright 2026 The ragperf Authors.

#include "ragperf/ring_buffer.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ragperf {
namespace {

std::vector<int> AllOf(const RingBuffer<int>& ring) {
  std::vector<int> out;
  ring.ForEach([&out](const int& v) { out.push_back(v); });
  return out;
}

TEST(RingBufferTest, EmptyRing) {
  RingBuffer<int> ring(4);
  EXPECT_TRUE(ring.empty());
  EXPECT_EQ(ring.size(), 0u);
  EXPECT_EQ(ring.capacity(), 4u);
  EXPECT_TRUE(ring.Newest(10).empty());
  EXPECT_TRUE(AllOf(ring).empty());
  // An idle ring holds no element storage.
  EXPECT_EQ(ring.MemoryBytes(), 0u);
}

TEST(RingBufferTest, BelowCapacityKeepsEverythingInOrder) {
  RingBuffer<int> ring(5);
  for (int i = 1; i <= 3; ++i) ring.Push(i);
  EXPECT_FALSE(ring.empty());
  EXPECT_EQ(ring.size(), 3u);
  EXPECT_EQ(ring.Newest(10), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(ring.Newest(3), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(ring.Newest(2), (std::vector<int>{2, 3}));
  EXPECT_EQ(ring.Newest(1), (std::vector<int>{3}));
  EXPECT_TRUE(ring.Newest(0).empty());
  EXPECT_EQ(AllOf(ring), (std::vector<int>{1, 2, 3}));
}

TEST(RingBufferTest, AtCapacityKeepsEverything) {
  RingBuffer<int> ring(4);
  for (int i = 0; i < 4; ++i) ring.Push(i);
  EXPECT_EQ(ring.size(), 4u);
  EXPECT_EQ(ring.Newest(100), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(AllOf(ring), (std::vector<int>{0, 1, 2, 3}));
}

TEST(RingBufferTest, OverCapacityDropsOldestFirst) {
  RingBuffer<int> ring(3);
  for (int i = 0; i < 5; ++i) ring.Push(i);
  EXPECT_EQ(ring.size(), 3u);
  EXPECT_EQ(ring.capacity(), 3u);
  EXPECT_EQ(ring.Newest(10), (std::vector<int>{2, 3, 4}));
  EXPECT_EQ(ring.Newest(2), (std::vector<int>{3, 4}));
  EXPECT_EQ(ring.Newest(1), (std::vector<int>{4}));
  EXPECT_EQ(AllOf(ring), (std::vector<int>{2, 3, 4}));
}

TEST(RingBufferTest, OrderHoldsAtEveryWrapPosition) {
  constexpr int kCapacity = 7;
  RingBuffer<int> ring(kCapacity);
  for (int n = 1; n <= 5 * kCapacity + 3; ++n) {
    ring.Push(n);
    const int size = std::min(n, kCapacity);
    std::vector<int> expected;
    for (int v = n - size + 1; v <= n; ++v) expected.push_back(v);
    ASSERT_EQ(ring.size(), static_cast<size_t>(size)) << n;
    ASSERT_EQ(AllOf(ring), expected) << n;
    ASSERT_EQ(ring.Newest(static_cast<size_t>(kCapacity)), expected) << n;
    for (size_t limit = 0; limit <= static_cast<size_t>(size); ++limit) {
      const std::vector<int> newest = ring.Newest(limit);
      ASSERT_EQ(newest, std::vector<int>(expected.end() - static_cast<std::ptrdiff_t>(limit),
                                         expected.end()))
          << n << " limit " << limit;
    }
  }
}

TEST(RingBufferTest, CapacityZeroIsTreatedAsOne) {
  RingBuffer<int> ring(0);
  EXPECT_EQ(ring.capacity(), 1u);
  ring.Push(1);
  ring.Push(2);
  ring.Push(3);
  EXPECT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring.Newest(5), (std::vector<int>{3}));
  EXPECT_EQ(AllOf(ring), (std::vector<int>{3}));
}

TEST(RingBufferTest, CapacityOneKeepsTheNewest) {
  RingBuffer<int> ring(1);
  for (int i = 0; i < 10; ++i) {
    ring.Push(i);
    EXPECT_EQ(ring.Newest(1), (std::vector<int>{i}));
  }
}

TEST(RingBufferTest, ClearReleasesStorageAndRestarts) {
  RingBuffer<int> ring(8);
  for (int i = 0; i < 20; ++i) ring.Push(i);  // wrapped
  EXPECT_GE(ring.MemoryBytes(), 8 * sizeof(int));
  ring.Clear();
  EXPECT_TRUE(ring.empty());
  EXPECT_EQ(ring.size(), 0u);
  EXPECT_EQ(ring.capacity(), 8u);
  EXPECT_EQ(ring.MemoryBytes(), 0u);
  EXPECT_TRUE(ring.Newest(8).empty());
  EXPECT_TRUE(AllOf(ring).empty());
  // Usable again, starting from a clean order.
  for (int i = 100; i < 103; ++i) ring.Push(i);
  EXPECT_EQ(ring.Newest(8), (std::vector<int>{100, 101, 102}));
  for (int i = 103; i < 112; ++i) ring.Push(i);
  EXPECT_EQ(ring.Newest(3), (std::vector<int>{109, 110, 111}));
  EXPECT_EQ(AllOf(ring).front(), 104);
}

TEST(RingBufferTest, MemoryGrowsWithUseUpToCapacity) {
  RingBuffer<int> ring(1000);
  ring.Push(1);
  const size_t small = ring.MemoryBytes();
  EXPECT_GE(small, sizeof(int));
  EXPECT_LT(small, 1000 * sizeof(int));
  for (int i = 0; i < 5000; ++i) ring.Push(i);
  // Once full the storage stops growing.
  const size_t full = ring.MemoryBytes();
  for (int i = 0; i < 5000; ++i) ring.Push(i);
  EXPECT_EQ(ring.MemoryBytes(), full);
  EXPECT_GE(full, 1000 * sizeof(int));
}

TEST(RingBufferTest, StringsAreMovedAndCopiedOut) {
  RingBuffer<std::string> ring(2);
  std::string a(100, 'a');  // beyond any small-string buffer
  ring.Push(std::move(a));
  ring.Push(std::string("b"));
  ring.Push(std::string("c"));  // overwrites the 100 x 'a'
  const std::vector<std::string> newest = ring.Newest(5);
  EXPECT_EQ(newest, (std::vector<std::string>{"b", "c"}));
  // Newest() copies: the ring still owns its elements.
  EXPECT_EQ(ring.Newest(5), newest);
  std::string joined;
  ring.ForEach([&joined](const std::string& s) { joined += s; });
  EXPECT_EQ(joined, "bc");
  std::string lvalue = "d";
  ring.Push(lvalue);  // by copy
  EXPECT_EQ(lvalue, "d");
  EXPECT_EQ(ring.Newest(5), (std::vector<std::string>{"c", "d"}));
}

}  // namespace
}  // namespace ragperf
