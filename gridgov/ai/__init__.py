"""AI assistance behind small protocols: classify, deduplicate. Pure compute, no SQL, no HTTP."""
