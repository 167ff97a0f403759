"""A small, real RAG pipeline over a bundled handbook, instrumented with ragperf.

Run it with ``python -m ragperf.demo``; the building blocks live in
:mod:`ragperf.demo.pipeline`.
"""
