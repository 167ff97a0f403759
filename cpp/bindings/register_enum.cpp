// Copyright 2026 The ragperf Authors.
//
// _core._plain_class_getattr(metaclass): attribute reads on the classes of
// `metaclass` use type's own lookup, skipping a Python-level __getattr__ hook.
//
// Why: on CPython 3.11, enum.EnumType defines __getattr__, so every
// `OperationType.LLM_INFERENCE` goes through the generic slot hook that calls
// type.__getattribute__ as a Python method: ~75 ns, measured at 300 ns for
// the four operation names of a realistic nested query, about a third of
// ragperf's whole cost per query (issue #20). EnumType.__getattr__ only
// answers names that are not class attributes; every member of an Enum is a
// class attribute (the member, or a property redirecting to it), so type's
// own lookup gives the same members and raises AttributeError for the rest.
// CPython 3.12 dropped EnumType.__getattr__; there this changes nothing.
//
// Contract: `metaclass` is a subclass of type made for this purpose (its
// slot is changed, not EnumType's). Setting __getattr__ or __getattribute__
// on it or a base later recomputes the slot (CPython's update_slot): only the
// speed is lost, never behaviour.
//
// Example (Python):
//   >>> class _Meta(enum.EnumMeta): pass
//   >>> _core._plain_class_getattr(_Meta)
//   >>> class Op(str, enum.Enum, metaclass=_Meta):
//   ...     A = "a"

#include <pybind11/pybind11.h>

#include <string>

#include "registers.h"

namespace py = pybind11;

namespace ragperf::bindings {

void RegisterEnum(py::module_& m) {
  m.def(
      "_plain_class_getattr",
      [](py::handle metaclass) {
        PyObject* meta = metaclass.ptr();
        if (!PyType_Check(meta) ||
            !PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(meta),
                              &PyType_Type) ||
            meta == reinterpret_cast<PyObject*>(&PyType_Type)) {
          throw py::type_error(
              "_plain_class_getattr() takes a subclass of type (a "
              "metaclass), got " +
              std::string(py::repr(metaclass)));
        }
        PyTypeObject* type = reinterpret_cast<PyTypeObject*>(meta);
        if (type->tp_getattro != PyType_Type.tp_getattro) {
          type->tp_getattro = PyType_Type.tp_getattro;
          PyType_Modified(type);
        }
      },
      py::arg("metaclass"),
      "Class attribute reads of `metaclass`'s classes skip a Python-level "
      "__getattr__ hook (EnumType's, on CPython 3.11).");
}

}  // namespace ragperf::bindings
