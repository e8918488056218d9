"""`python -m rag.llm.llama_main --model F.gguf --port N ...`: llama.cpp's own HTTP server, from the prebuilt
xllamacpp wheel (no compiler), as a process of its own that stops cleanly on SIGTERM or Ctrl-C.

xllamacpp starts the server from a Python object, not a command line; this module is the command line, so
rag/llm/process.py can start, await and stop it by PID like any other server. Requests queue in the server's
slots (`--parallel`): a second request never ends a running stream.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT."""
    ap = argparse.ArgumentParser(prog="python -m rag.llm.llama_main", description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="the gguf file")
    ap.add_argument("--alias", required=True, help="the model name the server answers to")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--n_ctx", type=int, default=4096, help="context window of all slots together")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parallel", type=int, default=1, help="requests served at once; more wait in a queue")
    ap.add_argument("--verbose", action="store_true", help="llama.cpp's info log too (default: warnings and errors)")
    args = ap.parse_args(argv)

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.model_alias = {args.alias}
    params.hostnames = [args.host]
    params.port = args.port
    params.n_ctx = args.n_ctx * args.parallel  # each slot gets the full window
    params.n_parallel = args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.ui = False  # an API, not a web page
    params.verbosity = 3 if args.verbose else 2  # llama.cpp's levels: 3 logs every step of loading the model
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server = xllamacpp.Server(params)  # serving from here on (its own threads)
    print(f"llama.cpp server (xllamacpp) on {server.listening_address}, model {args.alias}", file=sys.stderr,
          flush=True)
    stop.wait()
    del server  # stops the HTTP threads and frees the model
    return 0


if __name__ == "__main__":
    sys.exit(main())
