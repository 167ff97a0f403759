// Copyright 2026 The ragperf Authors.
//
// GilRelease: releases the GIL for a C++ section, like
// py::gil_scoped_release, but safe when the interpreter shuts down meanwhile.
//
// Why not py::gil_scoped_release: when a daemon thread re-takes the GIL
// after interpreter finalization began, CPython (3.11-3.13) ends the thread
// with pthread_exit() from inside PyEval_RestoreThread. glibc implements that
// as a forced unwind, and a forced unwind leaving a noexcept destructor (all
// destructors are noexcept by default, gil_scoped_release's included) calls
// std::terminate: the process aborts at exit with "terminate called without
// an active exception". This destructor is noexcept(false), so the unwind
// continues through pybind11's dispatcher (which rethrows
// abi::__forced_unwind) and the thread ends quietly. Found by
// tests/python/test_shutdown.py.
//
// Example:
//
//   Report report;
//   {
//     GilRelease release;  // other Python threads run meanwhile
//     report = monitor.GenerateReport();
//   }

#ifndef RAGPERF_BINDINGS_GIL_RELEASE_H_
#define RAGPERF_BINDINGS_GIL_RELEASE_H_

#include <Python.h>

namespace ragperf::bindings {

class GilRelease {
 public:
  GilRelease() : state_(PyEval_SaveThread()) {}
  // May not return: see the file comment.
  ~GilRelease() noexcept(false) { PyEval_RestoreThread(state_); }
  GilRelease(const GilRelease&) = delete;
  GilRelease& operator=(const GilRelease&) = delete;

 private:
  PyThreadState* state_;
};

}  // namespace ragperf::bindings

#endif  // RAGPERF_BINDINGS_GIL_RELEASE_H_
