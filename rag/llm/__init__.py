"""The OpenAI-compatible chat client (the only reader of OPENAI_*) and the local llama.cpp server launcher."""
