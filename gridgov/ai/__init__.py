"""AI assistance behind small protocols: classify, deduplicate, analyse images, verify handling,
warn early.

Pure compute (no SQL, no settings) except `llm`, the one outbound HTTP client (to a
chat-completions service the city configures).
"""
