// Copyright 2026 The ragperf Authors.

#include "ragperf/model_usage.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/base/optimization.h"
#include "absl/strings/str_cat.h"
#include "ragperf/utf8.h"
#include "ragperf/saturating.h"

namespace ragperf {
namespace {

absl::Status ValidatePrice(absl::string_view model, const ModelPrice& price) {
  if (model.empty() || model.size() > ModelUsage::kMaxModelNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("model name must be 1 to ",
                     ModelUsage::kMaxModelNameLength, " bytes, got '",
                     Utf8Prefix(model, 40), "' (", model.size(), ")"));
  }
  for (const double p : {price.input_per_million, price.output_per_million}) {
    if (!(std::isfinite(p) && p >= 0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "prices of model '", model,
          "' must be finite numbers >= 0 (USD per 1M tokens), got ", p));
    }
  }
  return absl::OkStatus();
}

}  // namespace

namespace model_usage_internal {

void AddSaturatingSlow(std::atomic<int64_t>& total, int64_t n) {
  int64_t seen = total.load(std::memory_order_relaxed);
  while (!total.compare_exchange_weak(seen, SaturatingAdd(seen, n),
                                      std::memory_order_relaxed)) {
  }
}

}  // namespace model_usage_internal

namespace {

bool IsDigits(absl::string_view s) {
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

absl::string_view ModelUsage::WithoutDateSuffix(absl::string_view model) {
  // "-YYYY-MM-DD": 11 characters after a non-empty name.
  constexpr size_t kSuffix = 11;
  if (model.size() <= kSuffix) return model;
  const absl::string_view suffix = model.substr(model.size() - kSuffix);
  if (suffix[0] != '-' || suffix[5] != '-' || suffix[8] != '-' ||
      !IsDigits(suffix.substr(1, 4)) || !IsDigits(suffix.substr(6, 2)) ||
      !IsDigits(suffix.substr(9, 2))) {
    return model;
  }
  return model.substr(0, model.size() - kSuffix);
}

const ModelPrice* ModelUsage::LookUp(absl::string_view model,
                                     absl::string_view response_model) const {
  if (prices_.empty()) return nullptr;
  const absl::string_view names[] = {model, response_model,
                                     WithoutDateSuffix(model),
                                     WithoutDateSuffix(response_model)};
  for (const absl::string_view name : names) {
    if (name.empty()) continue;
    if (auto it = prices_.find(name); it != prices_.end()) return &it->second;
  }
  return nullptr;
}

void ModelUsage::AddResponseModel(ModelUsageEntry& t,
                                  absl::string_view response_model) {
  if (response_model.empty()) return;
  const absl::string_view name = Utf8Prefix(response_model, kMaxModelNameLength);
  auto it = std::lower_bound(t.response_models.begin(), t.response_models.end(),
                             name);
  if (it != t.response_models.end() && *it == name) return;
  if (t.response_models.size() >= kMaxResponseModels) return;
  t.response_models.insert(it, std::string(name));
}

absl::Status ModelUsage::SetPrice(absl::string_view model, ModelPrice price) {
  if (absl::Status s = ValidatePrice(model, price); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  prices_[model] = price;
  prices_version_.fetch_add(1, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status ModelUsage::SetPrices(
    const std::vector<std::pair<std::string, ModelPrice>>& prices) {
  for (const auto& [model, price] : prices) {
    if (absl::Status s = ValidatePrice(model, price); !s.ok()) return s;
  }
  absl::MutexLock lock(&mu_);
  prices_.clear();
  for (const auto& [model, price] : prices) prices_[model] = price;
  prices_version_.fetch_add(1, std::memory_order_release);
  return absl::OkStatus();
}

std::optional<ModelPrice> ModelUsage::PriceOf(absl::string_view model) const {
  absl::MutexLock lock(&mu_);
  auto it = prices_.find(model);
  if (it == prices_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, ModelPrice>> ModelUsage::Prices() const {
  std::vector<std::pair<std::string, ModelPrice>> out;
  {
    absl::MutexLock lock(&mu_);
    out.assign(prices_.begin(), prices_.end());
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

std::optional<ModelPrice> ModelUsage::PriceFor(
    absl::string_view model, absl::string_view response_model) const {
  absl::MutexLock lock(&mu_);
  const ModelPrice* price = LookUp(model, response_model);
  if (price == nullptr) return std::nullopt;
  return *price;
}

std::optional<double> ModelUsage::CostOf(absl::string_view model,
                                         absl::string_view response_model,
                                         int64_t prompt_tokens,
                                         int64_t completion_tokens,
                                         int64_t total_tokens) const {
  const std::optional<ModelPrice> price = PriceFor(model, response_model);
  if (!price) return std::nullopt;
  return CostWith(*price, prompt_tokens, completion_tokens, total_tokens);
}

ModelUsageEntry& ModelUsage::EntryLocked(absl::string_view model,
                                         OverflowCallback* notify) {
  // Names are capped like operation names so a runaway label cannot grow
  // one entry without bound.
  const absl::string_view name = Utf8Prefix(model, kMaxModelNameLength);
  if (auto it = totals_.find(name); it != totals_.end()) return *it->second;
  const bool overflow = name != kOverflowName && own_models_ >= max_models_;
  if (overflow) {
    if (!std::exchange(overflowed_, true)) *notify = callback_;
  } else if (name != kOverflowName) {
    ++own_models_;
  }
  std::unique_ptr<ModelUsageEntry>& e =
      totals_[overflow ? kOverflowName : name];
  if (e == nullptr) e = std::make_unique<ModelUsageEntry>();
  return *e;
}

void ModelUsage::NotifyOverflow(const OverflowCallback& notify,
                                absl::string_view model) const {
  if (notify) notify(Utf8Prefix(model, kMaxModelNameLength), max_models_);
}

std::optional<double> ModelUsage::Record(absl::string_view model,
                                         absl::string_view response_model,
                                         int64_t prompt_tokens,
                                         int64_t completion_tokens,
                                         int64_t total_tokens,
                                         double duration_s) {
  if (model.empty()) return std::nullopt;
  OverflowCallback notify;
  std::optional<double> cost;
  {
    absl::MutexLock lock(&mu_);
    // Priced by the model's own name, also when it adds to __other__.
    if (const ModelPrice* price = LookUp(model, response_model)) {
      cost = CostWith(*price, prompt_tokens, completion_tokens, total_tokens);
    }
    ModelUsageEntry& e = EntryLocked(model, &notify);
    Add(e, prompt_tokens, completion_tokens, total_tokens, duration_s, cost);
    if (!response_model.empty()) AddResponseModel(e, response_model);
  }
  NotifyOverflow(notify, model);
  return cost;
}

void ModelUsage::Resolve(absl::string_view model, ModelUsageHandle* handle) {
  OverflowCallback notify;
  {
    absl::MutexLock lock(&mu_);
    handle->entry = &EntryLocked(model, &notify);
    const ModelPrice* price = LookUp(model, {});
    handle->has_price = price != nullptr;
    handle->price = price != nullptr ? *price : ModelPrice();
    handle->prices_version = prices_version_.load(std::memory_order_relaxed);
  }
  NotifyOverflow(notify, model);
}

std::vector<ModelTotals> ModelUsage::GetAll() const {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  std::vector<ModelTotals> out;
  {
    absl::MutexLock lock(&mu_);
    out.reserve(totals_.size());
    for (const auto& [model, entry] : totals_) {
      const ModelUsageEntry& t = *entry;
      if (!t.listed.load(kRelaxed)) continue;
      ModelTotals m;
      m.model = model;
      m.operations = t.operations.load(kRelaxed);
      m.prompt_tokens = t.prompt_tokens.load(kRelaxed);
      m.completion_tokens = t.completion_tokens.load(kRelaxed);
      m.total_tokens = t.total_tokens.load(kRelaxed);
      m.duration_s = t.duration_s.load(kRelaxed);
      m.tokens_per_second =
          m.duration_s > 0 ? static_cast<double>(m.total_tokens) / m.duration_s
                           : 0;
      const ModelPrice* price = LookUp(
          model, t.response_models.empty() ? absl::string_view()
                                           : absl::string_view(t.response_models[0]));
      if (price != nullptr) {
        m.has_price = true;
        m.price = *price;
      }
      m.response_models = t.response_models;
      m.priced_operations = t.priced_operations.load(kRelaxed);
      m.has_cost = m.priced_operations > 0;
      m.cost_usd = t.cost_usd.load(kRelaxed);
      m.unpriced_operations = t.unpriced_operations.load(kRelaxed);
      out.push_back(std::move(m));
    }
  }
  std::sort(out.begin(), out.end(), [](const ModelTotals& a, const ModelTotals& b) {
    return a.model < b.model;
  });
  return out;
}

void ModelUsage::MergeTotals(const ModelTotals& m) {
  if (m.model.empty()) return;
  OverflowCallback notify;
  {
    absl::MutexLock lock(&mu_);
    MergeLocked(EntryLocked(m.model, &notify), m);
  }
  NotifyOverflow(notify, m.model);
}

void ModelUsage::MergeLocked(ModelUsageEntry& t, const ModelTotals& m) {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  t.listed.store(true, kRelaxed);
  t.operations.fetch_add(m.operations, kRelaxed);
  model_usage_internal::AddSaturating(t.prompt_tokens, m.prompt_tokens);
  model_usage_internal::AddSaturating(t.completion_tokens, m.completion_tokens);
  model_usage_internal::AddSaturating(t.total_tokens, m.total_tokens);
  model_usage_internal::AddDouble(t.duration_s, m.duration_s);
  t.priced_operations.fetch_add(m.priced_operations, kRelaxed);
  model_usage_internal::AddDouble(t.cost_usd, m.cost_usd);
  t.unpriced_operations.fetch_add(m.unpriced_operations, kRelaxed);
  for (const std::string& r : m.response_models) AddResponseModel(t, r);
}

void ModelUsage::Clear() {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  absl::MutexLock lock(&mu_);
  // Zeroed, not erased: handles keep pointing at their entries.
  for (auto& [model, entry] : totals_) {
    ModelUsageEntry& t = *entry;
    t.listed.store(false, kRelaxed);
    t.operations.store(0, kRelaxed);
    t.prompt_tokens.store(0, kRelaxed);
    t.completion_tokens.store(0, kRelaxed);
    t.total_tokens.store(0, kRelaxed);
    t.duration_s.store(0, kRelaxed);
    t.priced_operations.store(0, kRelaxed);
    t.cost_usd.store(0, kRelaxed);
    t.unpriced_operations.store(0, kRelaxed);
    t.response_models.clear();
  }
}

bool ModelUsage::overflowed() const {
  absl::MutexLock lock(&mu_);
  return overflowed_;
}

void ModelUsage::SetOverflowCallback(OverflowCallback callback) {
  absl::MutexLock lock(&mu_);
  callback_ = std::move(callback);
}

}  // namespace ragperf
