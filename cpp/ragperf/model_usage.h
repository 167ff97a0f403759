// Copyright 2026 The ragperf Authors.
//
// model_usage.h
// -----------------------------------------------------------------------------
// Per-model token usage and cost. A price table maps a model name to its
// input (prompt) and output (completion) price in USD per one million tokens;
// Record() adds one operation's tokens to the model's totals and returns its
// cost when the model has a price.
//
// Cost rules (so that a missing price never reads as "free"):
//   cost = prompt_tokens * input / 1e6 + completion_tokens * output / 1e6
// for a model with a price. A model without a price, or an operation whose
// tokens are only a total (no prompt/completion split) while both prices are
// set and differ, has an unknown cost: Record() returns nullopt and the
// model's `unpriced_operations` grows. Cost totals are null (has_cost false)
// until at least one operation had a known cost.
//
// Requested and response models: an operation is keyed by the model it
// asked for (`model`, e.g. "gpt-4o-mini"); the model the response named
// (`response_model`, e.g. "gpt-4o-mini-2024-07-18") is kept beside it
// (ModelTotals::response_models). The price of an operation is looked up
// for, in order: the requested model, the response model, then each of them
// without a dated suffix ("name-YYYY-MM-DD" -> "name"). The first name with
// a price wins (PriceFor).
//
// Distinct model names are capped like operation names (`max_models`, the
// monitor passes its `max_operations`): the first `max_models` names get
// their own totals, every later new name adds to the model `__other__`
// (kOverflowName) and the first such name calls the overflow callback once,
// outside the lock (the bindings log one warning). Costs are computed with
// the real model's price before they are added, so `__other__`'s cost is
// the sum of known costs. The count covers the object's lifetime (names
// survive Clear()), so model names built from unbounded data (a request
// field) cannot grow memory or an exporter's label set without limit.
//
// Thread-safe. One absl::Mutex guards the tables; a model's counters are
// atomics, so a caller that records one model again and again can keep a
// ModelUsageHandle (Resolve) and add through it without the lock, as the
// bindings do per block (issue #20: the lock and two table lookups were a
// sixth of an LLM block's cost, and one lock for every model serialised
// threads recording LLM blocks).
//
// Example:
//
//   ragperf::ModelUsage usage;
//   usage.SetPrice("gpt-4o-mini", {0.15, 0.60}).IgnoreError();
//   std::optional<double> cost = usage.Record("gpt-4o-mini", 1000, 200, 1200, 0.8);
//   // *cost == 1000 * 0.15e-6 + 200 * 0.60e-6
//   usage.Record("local-llama", 50, 10, 60, 0.2);  // nullopt: no price
//   usage.Record("gpt-4o-mini", "gpt-4o-mini-2024-07-18", 10, 2, 12, 0.1);
//   // priced as "gpt-4o-mini"; GetAll() lists the dated name under it
//   ragperf::ModelUsageHandle h;
//   usage.Resolve("gpt-4o-mini", &h);
//   if (usage.IsCurrent(h)) usage.Record(h, 1000, 200, 1200, 0.8);  // no lock
//   ragperf::ModelUsage capped(/*max_models=*/1);
//   capped.Record("a", 1, 1, 2, 0.1);
//   capped.Record("b", 1, 1, 2, 0.1);  // adds to "__other__"; overflowed()

#ifndef RAGPERF_MODEL_USAGE_H_
#define RAGPERF_MODEL_USAGE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "ragperf/overflow_name.h"

namespace ragperf {

// USD per one million tokens.
struct ModelPrice {
  double input_per_million = 0;
  double output_per_million = 0;
};

struct ModelTotals {
  std::string model;
  uint64_t operations = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
  double duration_s = 0;
  double tokens_per_second = 0;  // total_tokens / duration_s
  bool has_price = false;
  ModelPrice price;
  bool has_cost = false;          // at least one operation had a known cost
  uint64_t priced_operations = 0;  // operations whose cost was known
  double cost_usd = 0;            // sum of known costs
  uint64_t unpriced_operations = 0;  // operations whose cost is unknown
  // Distinct models the responses named (sorted; at most
  // kMaxResponseModels, later ones are not listed).
  std::vector<std::string> response_models;
};

// One model's running totals. The counters are atomics (relaxed: each is
// exact, a reader may see one block's update half applied); the list of
// response models is guarded by the owning ModelUsage's lock. Entries live
// as long as their ModelUsage (Clear() zeroes them), so handles stay valid.
struct ModelUsageEntry {
  std::atomic<bool> listed{false};  // recorded or merged since Clear()
  std::atomic<uint64_t> operations{0};
  std::atomic<int64_t> prompt_tokens{0};
  std::atomic<int64_t> completion_tokens{0};
  std::atomic<int64_t> total_tokens{0};
  std::atomic<double> duration_s{0};
  std::atomic<uint64_t> priced_operations{0};
  std::atomic<double> cost_usd{0};
  std::atomic<uint64_t> unpriced_operations{0};
  std::vector<std::string> response_models;  // sorted, distinct; owner's lock
};

namespace model_usage_internal {

// total += n, saturating at the int64 limits. Inline: an LLM block adds
// three token counts, and a call per add was a tenth of its recording cost.
void AddSaturatingSlow(std::atomic<int64_t>& total, int64_t n);
inline void AddSaturating(std::atomic<int64_t>& total, int64_t n) {
  // The usual case, one atomic add; a total that passed the maximum (only
  // after ~9.2e18 tokens) is set back to it.
  if (ABSL_PREDICT_TRUE(n > 0)) {
    const int64_t before = total.fetch_add(n, std::memory_order_relaxed);
    if (ABSL_PREDICT_FALSE(before > std::numeric_limits<int64_t>::max() - n)) {
      total.store(std::numeric_limits<int64_t>::max(), std::memory_order_relaxed);
    }
  } else if (n != 0) {
    AddSaturatingSlow(total, n);
  }
}

inline void AddDouble(std::atomic<double>& total, double x) {
  double seen = total.load(std::memory_order_relaxed);
  while (!total.compare_exchange_weak(seen, seen + x,
                                      std::memory_order_relaxed)) {
  }
}

}  // namespace model_usage_internal

// What a caller recording one model repeatedly keeps: the model's entry and
// its price as of a version of the price table (ModelUsage::Resolve). Not
// thread-safe itself: one owner (the bindings keep one per monitor, under
// the GIL).
struct ModelUsageHandle {
  ModelUsageEntry* entry = nullptr;
  uint64_t prices_version = 0;  // 0: empty (never current)
  bool has_price = false;
  ModelPrice price;
};

class ModelUsage {
 public:
  // Bytes: 200 characters of up to 4 UTF-8 bytes each.
  static constexpr size_t kMaxModelNameLength = 800;
  // Response models listed per requested model.
  static constexpr size_t kMaxResponseModels = 16;
  // Distinct model names with their own totals (OperationCap's default).
  static constexpr size_t kDefaultMaxModels = 1000;
  // Called once, with the first model name that overflowed and the cap,
  // outside every ragperf lock.
  using OverflowCallback = std::function<void(absl::string_view, size_t)>;

  // "gpt-4o-mini" for "gpt-4o-mini-2024-07-18"; `model` itself when it has
  // no "-YYYY-MM-DD" suffix.
  static absl::string_view WithoutDateSuffix(absl::string_view model);

  // `max_models` >= 1 (0 is taken as 1).
  explicit ModelUsage(size_t max_models = kDefaultMaxModels)
      : max_models_(max_models > 0 ? max_models : 1) {}
  ModelUsage(const ModelUsage&) = delete;
  ModelUsage& operator=(const ModelUsage&) = delete;

  // InvalidArgument (naming the value) for an empty or too long model name
  // or a negative or non-finite price.
  absl::Status SetPrice(absl::string_view model, ModelPrice price)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Replaces the whole table (validated first: on error nothing changes).
  absl::Status SetPrices(
      const std::vector<std::pair<std::string, ModelPrice>>& prices)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The price of exactly `model` (no fallback).
  std::optional<ModelPrice> PriceOf(absl::string_view model) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // The price an operation of `model` answered by `response_model` (may be
  // empty) pays: see the lookup order above.
  std::optional<ModelPrice> PriceFor(absl::string_view model,
                                     absl::string_view response_model) const
      ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::pair<std::string, ModelPrice>> Prices() const
      ABSL_LOCKS_EXCLUDED(mu_);

  // The cost of those tokens for `model`, or nullopt when unknown (see the
  // rules above). Does not record anything.
  std::optional<double> CostOf(absl::string_view model, int64_t prompt_tokens,
                               int64_t completion_tokens,
                               int64_t total_tokens) const
      ABSL_LOCKS_EXCLUDED(mu_) {
    return CostOf(model, {}, prompt_tokens, completion_tokens, total_tokens);
  }
  std::optional<double> CostOf(absl::string_view model,
                               absl::string_view response_model,
                               int64_t prompt_tokens, int64_t completion_tokens,
                               int64_t total_tokens) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Adds one operation of `model` (non-empty), answered by `response_model`
  // (may be empty), and returns its cost.
  std::optional<double> Record(absl::string_view model,
                               absl::string_view response_model,
                               int64_t prompt_tokens, int64_t completion_tokens,
                               int64_t total_tokens, double duration_s)
      ABSL_LOCKS_EXCLUDED(mu_);
  std::optional<double> Record(absl::string_view model, int64_t prompt_tokens,
                               int64_t completion_tokens, int64_t total_tokens,
                               double duration_s) ABSL_LOCKS_EXCLUDED(mu_) {
    return Record(model, {}, prompt_tokens, completion_tokens, total_tokens,
                  duration_s);
  }

  // Fills `handle` for `model` (non-empty; created if new) answered by no
  // response model: its entry and current price.
  void Resolve(absl::string_view model, ModelUsageHandle* handle)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Whether `handle` is filled and no price changed since (else Resolve
  // again before Record(handle, ...)).
  bool IsCurrent(const ModelUsageHandle& handle) const {
    // An empty handle's version (0) is never the table's (1 and up).
    return handle.prices_version ==
           prices_version_.load(std::memory_order_acquire);
  }
  // Record() for the handle's model without taking the lock. `handle` must
  // be current (IsCurrent); a price set meanwhile applies from the next
  // Resolve.
  std::optional<double> Record(const ModelUsageHandle& handle,
                               int64_t prompt_tokens, int64_t completion_tokens,
                               int64_t total_tokens, double duration_s) {
    std::optional<double> cost;
    if (handle.has_price) {
      cost = CostWith(handle.price, prompt_tokens, completion_tokens, total_tokens);
    }
    Add(*handle.entry, prompt_tokens, completion_tokens, total_tokens,
        duration_s, cost);
    return cost;
  }

  // Adds saved totals (from GetAll(), e.g. read back from an export);
  // prices are not part of them.
  void MergeTotals(const ModelTotals& totals) ABSL_LOCKS_EXCLUDED(mu_);
  // Totals of every model seen, sorted by name.
  std::vector<ModelTotals> GetAll() const ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets the totals; prices stay.
  void Clear() ABSL_LOCKS_EXCLUDED(mu_);

  size_t max_models() const { return max_models_; }
  // Whether a model name past the cap was added to `__other__` (the
  // object's lifetime). Names past the cap are not remembered (that would
  // grow without limit), so there is no count of distinct ones.
  bool overflowed() const ABSL_LOCKS_EXCLUDED(mu_);
  void SetOverflowCallback(OverflowCallback callback) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  static void AddResponseModel(ModelUsageEntry& e,
                               absl::string_view response_model);
  static void Add(ModelUsageEntry& e, int64_t prompt_tokens,
                  int64_t completion_tokens, int64_t total_tokens,
                  double duration_s, const std::optional<double>& cost) {
    using model_usage_internal::AddDouble;
    using model_usage_internal::AddSaturating;
    if (!e.listed.load(std::memory_order_relaxed)) {
      e.listed.store(true, std::memory_order_relaxed);
    }
    e.operations.fetch_add(1, std::memory_order_relaxed);
    AddSaturating(e.prompt_tokens, prompt_tokens);
    AddSaturating(e.completion_tokens, completion_tokens);
    AddSaturating(e.total_tokens, total_tokens);
    AddDouble(e.duration_s, duration_s);
    if (cost) {
      e.priced_operations.fetch_add(1, std::memory_order_relaxed);
      AddDouble(e.cost_usd, *cost);
    } else {
      e.unpriced_operations.fetch_add(1, std::memory_order_relaxed);
    }
  }
  // `model`'s entry (its name capped at kMaxModelNameLength), created if new;
  // `__other__`'s for a new name past the cap. Sets `*notify` to the
  // callback to call (after unlocking) when this was the first such name.
  ModelUsageEntry& EntryLocked(absl::string_view model, OverflowCallback* notify)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds saved totals `m` to `t`.
  void MergeLocked(ModelUsageEntry& t, const ModelTotals& m)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Calls `notify` (if set) for `model`; the caller holds no lock.
  void NotifyOverflow(const OverflowCallback& notify, absl::string_view model)
      const ABSL_LOCKS_EXCLUDED(mu_);
  const ModelPrice* LookUp(absl::string_view model,
                           absl::string_view response_model) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static std::optional<double> CostWith(const ModelPrice& price,
                                        int64_t prompt_tokens,
                                        int64_t completion_tokens,
                                        int64_t total_tokens) {
    if (prompt_tokens == 0 && completion_tokens == 0 && total_tokens > 0) {
      // Only a total: its split is unknown, which matters only when the two
      // prices differ.
      if (price.input_per_million != price.output_per_million) {
        return std::nullopt;
      }
      return static_cast<double>(total_tokens) * price.input_per_million * 1e-6;
    }
    return (static_cast<double>(prompt_tokens) * price.input_per_million +
            static_cast<double>(completion_tokens) * price.output_per_million) *
           1e-6;
  }

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, ModelPrice> prices_ ABSL_GUARDED_BY(mu_);
  // Changed (under mu_) with every change of prices_: handles compare it.
  // Starts at 1 and only grows, so an empty handle (0) is never current.
  std::atomic<uint64_t> prices_version_{1};
  // Entries by model; never erased, so ModelUsageHandle pointers stay valid.
  absl::flat_hash_map<std::string, std::unique_ptr<ModelUsageEntry>> totals_
      ABSL_GUARDED_BY(mu_);
  const size_t max_models_;
  size_t own_models_ ABSL_GUARDED_BY(mu_) = 0;  // entries other than __other__
  bool overflowed_ ABSL_GUARDED_BY(mu_) = false;
  OverflowCallback callback_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ragperf

#endif  // RAGPERF_MODEL_USAGE_H_
