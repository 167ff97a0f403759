// Copyright 2026 The ragperf Authors.

#include "fast_with_slots.h"

// CPython's type tables are designed to be partially initialised.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"


namespace ragperf::bindings {
namespace {

// A non-data descriptor wrapping an ordinary method descriptor.
struct SelfSlotObject {
  PyObject_HEAD
  PyTypeObject* owner;  // the type whose instances are returned as is
  PyObject* method;     // the ordinary method descriptor (strong)
};

PyTypeObject SelfSlotType = {PyVarObject_HEAD_INIT(nullptr, 0)};

PyObject* SelfSlotGet(PyObject* self, PyObject* obj, PyObject* type) {
  SelfSlotObject* slot = reinterpret_cast<SelfSlotObject*>(self);
  if (obj != nullptr && obj != Py_None &&
      PyObject_TypeCheck(obj, slot->owner)) {
    Py_INCREF(obj);  // the instance is its own bound __enter__/__exit__
    return obj;
  }
  // Class access (and anything unexpected): the plain method's behaviour.
  descrgetfunc get = Py_TYPE(slot->method)->tp_descr_get;
  return get(slot->method, obj, type);
}

void SelfSlotDealloc(PyObject* self) {
  Py_XDECREF(reinterpret_cast<SelfSlotObject*>(self)->method);
  Py_TYPE(self)->tp_free(self);
}

PyObject* SelfSlotDoc(PyObject* self, void*) {
  return PyObject_GetAttrString(reinterpret_cast<SelfSlotObject*>(self)->method,
                                "__doc__");
}

PyGetSetDef SelfSlotGetSet[] = {
    {"__doc__", SelfSlotDoc, nullptr, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

int ReadySelfSlotType() {
  if (SelfSlotType.tp_flags & Py_TPFLAGS_READY) return 0;
  SelfSlotType.tp_name = "ragperf._core._SelfSlot";
  SelfSlotType.tp_basicsize = sizeof(SelfSlotObject);
  SelfSlotType.tp_dealloc = SelfSlotDealloc;
  SelfSlotType.tp_flags = Py_TPFLAGS_DEFAULT;
  SelfSlotType.tp_descr_get = SelfSlotGet;
  SelfSlotType.tp_getset = SelfSlotGetSet;
  return PyType_Ready(&SelfSlotType);
}

int AddSlot(PyTypeObject* type, PyMethodDef* def) {
  PyObject* method = PyDescr_NewMethod(type, def);
  if (method == nullptr) return -1;
  SelfSlotObject* slot = PyObject_New(SelfSlotObject, &SelfSlotType);
  if (slot == nullptr) {
    Py_DECREF(method);
    return -1;
  }
  slot->owner = type;
  slot->method = method;
  const int rc = PyDict_SetItemString(type->tp_dict, def->ml_name,
                                      reinterpret_cast<PyObject*>(slot));
  Py_DECREF(slot);
  return rc;
}

}  // namespace

int InstallFastWithSlots(PyTypeObject* type, PyMethodDef* enter,
                         PyMethodDef* exit) {
  if (!(type->tp_flags & Py_TPFLAGS_HAVE_VECTORCALL)) {
    PyErr_Format(PyExc_SystemError, "%s has no vectorcall", type->tp_name);
    return -1;
  }
  if (ReadySelfSlotType() < 0 || AddSlot(type, enter) < 0 ||
      AddSlot(type, exit) < 0) {
    return -1;
  }
  PyType_Modified(type);  // drop cached lookups of the old attributes
  return 0;
}

}  // namespace ragperf::bindings
