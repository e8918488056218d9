"""Support code for tests and benchmarks, not installed with the product: real server processes (Chroma,
the app), the browser driver, fakes that implement real interfaces, memory and kill helpers."""
