"""Support code for tests and benchmarks, not installed with the product (pytest finds it through its
`pythonpath` option, the benchmarks run as `python -m bench.NAME` from the project root):

- seeds.py: hermetic Settings, the real seeds and hand-made page dumps; cli.py: `rag` as subprocesses
- chroma_server.py, app_server.py, llm_local.py: real server processes; browser.py: chromium via Playwright
- fakes.py: a scripted chat model behind the openai client's interface; scripted_http.py: an
  OpenAI-compatible HTTP server that plays back replies, faults and hangs; clock.py: a clock a test moves
- ingest_kill.py, recovery.py: SIGKILLed ingests and what a home holds after one; load.py: many answers at once
- memory.py: peak memory of a process; config_doc.py: docs/configuration.md from Settings
"""
