"""Pure array kernels (numpy/torch, no Spark import): the spec of DESIGN.md §1 in code."""
