"""A small, real RAG pipeline over a bundled handbook, instrumented with ragperf.

Run it with ``python -m ragperf.demo``. One module per pipeline step
(:mod:`~ragperf.demo.loading`, :mod:`~ragperf.demo.chunking`,
:mod:`~ragperf.demo.embedding`, :mod:`~ragperf.demo.retrieval`,
:mod:`~ragperf.demo.generation`); :mod:`ragperf.demo.pipeline` puts them together
and re-exports their names. The library never imports this package.
"""
