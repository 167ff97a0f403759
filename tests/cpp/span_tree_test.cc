// Copyright 2026 The ragperf Authors.

#include "ragperf/span_tree.h"

#include "gtest/gtest.h"
#include "ragperf/ring_buffer.h"

namespace ragperf {
namespace {

TEST(SpanTreeTest, RootAndChildrenShareTheTrace) {
  SpanTree tree;
  SpanNode query, retrieval, rerank;
  EXPECT_EQ(tree.Enter(nullptr, &query), nullptr);
  EXPECT_EQ(query.ids.span_id, 1u);
  EXPECT_EQ(query.ids.trace_id, 1u);
  EXPECT_EQ(query.ids.parent_id, 0u);
  EXPECT_EQ(query.ids.depth, 0);
  EXPECT_TRUE(query.active);

  EXPECT_EQ(tree.Enter(&query, &retrieval), &query);
  EXPECT_EQ(tree.Enter(&retrieval, &rerank), &retrieval);
  EXPECT_EQ(rerank.ids.parent_id, retrieval.ids.span_id);
  EXPECT_EQ(rerank.ids.trace_id, query.ids.span_id);
  EXPECT_EQ(rerank.ids.depth, 2);
  EXPECT_EQ(rerank.root, &query);  // the root, not the parent
  EXPECT_EQ(tree.last_id(), 3u);

  SpanNode* top = &rerank;
  EXPECT_EQ(SpanTree::Exit(&rerank, &top), SpanTree::Finished::kKept);
  EXPECT_EQ(top, &retrieval);
  EXPECT_EQ(rerank.parent, nullptr);
  EXPECT_EQ(rerank.root, nullptr);
  EXPECT_FALSE(rerank.active);
  EXPECT_EQ(rerank.ids.trace_id, 1u);  // ids stay readable after the end
  EXPECT_EQ(SpanTree::Exit(&retrieval, &top), SpanTree::Finished::kKept);
  EXPECT_EQ(SpanTree::Exit(&query, &top), SpanTree::Finished::kRoot);
  EXPECT_EQ(top, nullptr);
  EXPECT_EQ(query.kept_spans, 2);
  EXPECT_EQ(query.dropped_spans, 0);
}

TEST(SpanTreeTest, EndedInnermostBlockIsNoParent) {
  SpanTree tree;
  SpanNode a, b, c;
  tree.Enter(nullptr, &a);
  tree.Enter(&a, &b);
  SpanNode* top = &b;
  // a ends before b (out of order): b stays the innermost block.
  EXPECT_EQ(SpanTree::Exit(&a, &top), SpanTree::Finished::kRoot);
  EXPECT_EQ(top, &b);
  EXPECT_EQ(SpanTree::Exit(&b, &top), SpanTree::Finished::kKept);
  EXPECT_EQ(top, &a);  // b's parent, which has ended
  // A block entered now must not nest under the ended a.
  EXPECT_EQ(tree.Enter(top, &c), nullptr);
  EXPECT_EQ(c.ids.trace_id, c.ids.span_id);
}

TEST(SpanTreeTest, DescendantsOverTheCapAreCountedAsDropped) {
  SpanTree tree;
  SpanNode root;
  tree.Enter(nullptr, &root);
  SpanNode child;
  int kept = 0, dropped = 0;
  for (int i = 0; i < SpanTree::kMaxSpansPerTrace + 5; ++i) {
    tree.Enter(&root, &child);
    SpanNode* top = &child;
    switch (SpanTree::Exit(&child, &top)) {
      case SpanTree::Finished::kKept: ++kept; break;
      case SpanTree::Finished::kDropped: ++dropped; break;
      case SpanTree::Finished::kRoot: FAIL();
    }
    EXPECT_EQ(top, &root);
  }
  EXPECT_EQ(kept, SpanTree::kMaxSpansPerTrace);
  EXPECT_EQ(dropped, 5);
  EXPECT_EQ(root.dropped_spans, 5);
  SpanTree::Unkeep(&root);
  EXPECT_EQ(root.kept_spans, SpanTree::kMaxSpansPerTrace - 1);
  EXPECT_EQ(root.dropped_spans, 6);
  // Entered again, the root starts a new life with fresh counts and id.
  const uint64_t old_id = root.ids.span_id;
  tree.Enter(nullptr, &root);
  EXPECT_EQ(root.kept_spans, 0);
  EXPECT_EQ(root.dropped_spans, 0);
  EXPECT_GT(root.ids.span_id, old_id);
}

TEST(SpanTreeTest, RecentRootsRingKeepsTheNewest) {
  RingBuffer<int> roots(SpanTree::kRecentRoots);
  for (int i = 0; i < 150; ++i) roots.Push(i);
  const std::vector<int> newest = roots.Newest(SpanTree::kRecentRoots);
  ASSERT_EQ(newest.size(), SpanTree::kRecentRoots);
  EXPECT_EQ(newest.front(), 50);
  EXPECT_EQ(newest.back(), 149);
}

}  // namespace
}  // namespace ragperf
