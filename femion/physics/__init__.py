"""Physics modules: each owns its fields and states its equations and sources."""
