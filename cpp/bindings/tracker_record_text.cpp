// Copyright 2026 The ragperf Authors.
//
// What a finished block's record says beside its numbers: its model (and the
// model usage handle it is recorded through), response model and metadata
// text. Writing the metadata may run Python code, so this is also where the
// objects the record views are held (HeldText, tracker_objects.h).

#include <cstdint>
#include <string>

#include "block_metadata.h"
#include "tracker_objects.h"

namespace ragperf::bindings {

PyObject* ModelOf(TrackerObject* self) {
  if (self->model != nullptr) return self->model;
  if (MetadataUnset(&self->metadata)) {
    return self->response_model;  // no metadata: the common empty block
  }
  if (const InternedMetadata* shared = self->metadata.interned) {
    return shared->model != nullptr ? shared->model : self->response_model;
  }
  PyObject* m = MetadataGet(&self->metadata, ModelKey());
  return m != nullptr && PyUnicode_Check(m) ? m : self->response_model;
}

void HoldRecordText(TrackerObject* self, HeldText* held) {
  held->Hold(ModelOf(self), self->response_model, self->error_type,
             self->error_message);
}

namespace {

// The usage handle of `model` (a str whose text is `text`), kept for the
// last few model objects seen (a query's blocks name different models);
// NULL (look up by name) when it cannot be made.
ABSL_ATTRIBUTE_NOINLINE const ModelUsageHandle* ModelHandleSlow(
    HotPathObject* hot, PyObject* model, absl::string_view text) {
  ModelUsage& usage = hot->monitor->models();
  constexpr int kEntries = HotPathObject::kModelHandles;
  ModelHandleEntry* entry = &hot->model_handles[hot->model_last];
  if (entry->model != model) {  // not the last model: the others
    entry = nullptr;
    for (int i = 0; i < kEntries; ++i) {
      if (hot->model_handles[i].model == model) {
        hot->model_last = i;
        entry = &hot->model_handles[i];
        break;
      }
    }
  }
  if (entry != nullptr && usage.IsCurrent(entry->handle)) return &entry->handle;
  if (entry == nullptr) {
    hot->model_last = hot->model_next;
    hot->model_next = (hot->model_next + 1) % kEntries;
    entry = &hot->model_handles[hot->model_last];
    Py_INCREF(model);
    Py_XSETREF(entry->model, model);  // a str: no code runs
  }
  try {
    usage.Resolve(text, &entry->handle);
  } catch (...) {
    entry->handle = ModelUsageHandle();
    Py_CLEAR(entry->model);
    return nullptr;
  }
  return &entry->handle;
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline const ModelUsageHandle* ModelHandle(
    HotPathObject* hot, PyObject* model, absl::string_view text) {
  ModelHandleEntry* last = &hot->model_handles[hot->model_last];
  if (last->model == model && hot->monitor->models().IsCurrent(last->handle)) {
    return &last->handle;  // the model of the last LLM block
  }
  return ModelHandleSlow(hot, model, text);
}

struct HoldContext {
  TrackerObject* self;
  HeldText* held;
};

// MetadataJsonCache's hook: holds what the record will view (see HeldText).
void HoldText(void* arg) {
  HoldContext* c = static_cast<HoldContext*>(arg);
  HoldRecordText(c->self, c->held);
}

}  // namespace

void DescribeModelAndMetadata(TrackerObject* self, OperationRecord* rec,
                              std::string* scratch, HeldText* held) {
  // Writing the metadata may run Python code (str() of a value) that edits
  // this block (`op.metadata = ...`, `op.model = ...`): just before it, the
  // objects the record views are held (HoldText), and they are viewed only
  // after it ran. Immutable values (the usual block) run no code, hold
  // nothing.
  if (const InternedMetadata* shared = self->metadata.interned;
      shared != nullptr && self->model == nullptr &&
      self->response_model == nullptr) {
    // Shared metadata fixes the text and the model: nothing to look up.
    rec->metadata_json = shared->json;
    if (rec->success) rec->text_key = shared->key;
    if (!shared->model_text.empty()) {
      rec->model = shared->model_text;
      rec->model_handle = ModelHandle(self->hot, shared->model, rec->model);
    }
    return;
  }
  const bool model_from_pairs = self->model == nullptr && self->response_model == nullptr;
  if (!MetadataEmpty(&self->metadata)) {
    uint64_t key = 0;
    HoldContext context{self, held};
    rec->metadata_json = self->hot->metadata_json->Json(
        self->metadata, scratch, &key, &HoldText, &context);
    // The metadata's text, and the model when it comes from the metadata,
    // are then fixed by the cache key (a key is given only when no Python
    // code ran): the recent ring can skip comparing.
    if (rec->success && model_from_pairs) rec->text_key = key;
  }
  const bool ran_code = held->held;
  PyObject* model = ran_code ? held->model : ModelOf(self);
  PyObject* response_model = ran_code ? held->response_model : self->response_model;
  if (ran_code) {
    if (held->error_type != nullptr) rec->error_type = Utf8View(held->error_type);
    if (held->error_message != nullptr) {
      rec->error_message = Utf8View(held->error_message);
    }
  }
  if (model != nullptr) {
    rec->model = Utf8View(model);
    if (response_model != nullptr) {
      rec->response_model = Utf8View(response_model);
    } else if (!rec->model.empty()) {
      rec->model_handle = ModelHandle(self->hot, model, rec->model);
    }
  }
}

}  // namespace ragperf::bindings
