// Copyright 2026 The ragperf Authors.
//
// span_tree.h
// -----------------------------------------------------------------------------
// How timed blocks nest into traces. A block entered while another is the
// innermost active block of the same context (thread or asyncio task)
// becomes its child: it shares the parent's trace id, its depth is one more,
// and its parent id is the parent's span id. A block entered with no active
// block around it is a root: its trace id is its own span id. When a child
// ends, its finished span joins its root's list of descendants (at most
// kMaxSpansPerTrace per root; later ones are only counted as dropped); when a
// root ends, the whole trace is finished and goes to the ring of recent
// roots (the caller keeps that ring, e.g. a RingBuffer of kRecentRoots).
//
// The nodes are intrusive: SpanNode is embedded in the caller's span object
// (the Python binding's OperationTracker), which owns the objects the
// parent/root pointers point into and keeps them alive while a node is
// active. SpanTree holds only the id counter.
//
// Thread-compatible: one SpanTree per process, used under one lock (the
// binding's: the GIL). Span ids are unique per SpanTree, starting at 1.
//
// Example:
//
//   ragperf::SpanTree tree;
//   ragperf::SpanNode query, retrieval;
//   tree.Enter(/*innermost=*/nullptr, &query);   // a root: trace = its id
//   tree.Enter(/*innermost=*/&query, &retrieval);
//   // retrieval.ids.parent_id == query.ids.span_id, depth 1
//   SpanNode* top = &retrieval;
//   SpanTree::Exit(&retrieval, &top);   // kKept: add it to query's spans
//   SpanTree::Exit(&query, &top);       // kRoot: the trace is finished

#ifndef RAGPERF_SPAN_TREE_H_
#define RAGPERF_SPAN_TREE_H_

#include <cstddef>
#include <cstdint>

namespace ragperf {

// A block's identity in its trace; all 0 before the block was entered.
struct SpanIds {
  uint64_t span_id = 0;
  uint64_t parent_id = 0;  // 0 for a root
  uint64_t trace_id = 0;   // the root's span id
  int depth = 0;           // 0 for a root
};

// A block's place in its trace, embedded in the caller's span object.
struct SpanNode {
  SpanIds ids;
  // While active: the enclosing block and the trace's root (both null for a
  // root). Cleared when the block ends.
  SpanNode* parent = nullptr;
  SpanNode* root = nullptr;
  bool active = false;
  // On a root: finished descendants kept, and those over the cap.
  int64_t kept_spans = 0;
  int64_t dropped_spans = 0;
  // On a root: kept descendants that ended unsuccessfully (raised or were
  // cancelled), counted by the caller (SpanTree::NoteUnsuccessful). 0 lets
  // a trace sampler skip looking through the spans for a failure.
  int64_t unsuccessful_spans = 0;
};

class SpanTree {
 public:
  // Descendants kept per root (the rest are counted as dropped).
  static constexpr int64_t kMaxSpansPerTrace = 1000;
  // Finished roots a caller keeps (the binding's recent_roots()).
  static constexpr size_t kRecentRoots = 100;

  // Where a span that just ended goes.
  enum class Finished {
    kRoot,     // a root: its trace is complete (to the recent-roots ring)
    kKept,     // a descendant kept in its root's span list
    kDropped,  // a descendant over kMaxSpansPerTrace (counted on the root)
  };

  SpanTree() = default;
  SpanTree(const SpanTree&) = delete;
  SpanTree& operator=(const SpanTree&) = delete;

  // Starts `span` (a new life: counts on it are reset) under `innermost`,
  // the innermost block of the current context, if any. An innermost block
  // that is no longer active (left behind by an out-of-order exit) is not a
  // parent. Returns the parent used, or nullptr for a root.
  SpanNode* Enter(SpanNode* innermost, SpanNode* span) {
    if (innermost != nullptr && !innermost->active) innermost = nullptr;
    span->ids.span_id = ++last_id_;
    span->active = true;
    span->kept_spans = 0;
    span->dropped_spans = 0;
    span->unsuccessful_spans = 0;
    if (innermost == nullptr) {
      span->ids.parent_id = 0;
      span->ids.trace_id = span->ids.span_id;
      span->ids.depth = 0;
      span->parent = span->root = nullptr;
      return nullptr;
    }
    span->ids.parent_id = innermost->ids.span_id;
    span->ids.trace_id = innermost->ids.trace_id;
    span->ids.depth = innermost->ids.depth + 1;
    span->parent = innermost;
    span->root = innermost->root != nullptr ? innermost->root : innermost;
    return innermost;
  }

  // Ends `span`: `*innermost` (the context's innermost block) moves back to
  // span's parent when it is `span` (an out-of-order exit leaves a later
  // block in place); a descendant is counted on its root. The parent and
  // root pointers are cleared: read them first to release what they point
  // into.
  static Finished Exit(SpanNode* span, SpanNode** innermost) {
    span->active = false;
    if (innermost != nullptr && *innermost == span) *innermost = span->parent;
    SpanNode* root = span->root;
    if (root == nullptr) return Finished::kRoot;  // a root has no links
    span->parent = span->root = nullptr;
    if (root->kept_spans < kMaxSpansPerTrace) {
      ++root->kept_spans;
      return Finished::kKept;
    }
    ++root->dropped_spans;
    return Finished::kDropped;
  }

  // A kept descendant (Exit gave kKept) that ended unsuccessfully.
  static void NoteUnsuccessful(SpanNode* root) { ++root->unsuccessful_spans; }

  // A kept descendant its root could not store after all (out of memory):
  // counted as dropped instead.
  static void Unkeep(SpanNode* root) {
    --root->kept_spans;
    ++root->dropped_spans;
  }

  // The last span id handed out (0 before the first).
  uint64_t last_id() const { return last_id_; }

 private:
  uint64_t last_id_ = 0;
};

}  // namespace ragperf

#endif  // RAGPERF_SPAN_TREE_H_
