"""`rag serve`, `rag eval` and `rag serve-llm`: the commands that hand over to another program.

`serve` starts the web app (ui/), `eval` runs the golden questions and the gate (eval/): this module is the one
in rag that imports ui and eval (the import contract in pyproject.toml names it). `serve-llm` runs llama.cpp's
server until Ctrl-C or SIGTERM, and always stops it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from rag.cli import _friendly, _settings, app
from rag.errors import RagError


@app.command()
@_friendly
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (127.0.0.1: this machine only)."),
    port: int = typer.Option(7860, "--port", min=1, max=65535, help="Port to listen on."),
    mcp: bool = typer.Option(False, "--mcp", help="Also serve /ask, /search, /paper as MCP tools (needs gradio[mcp])."),
    no_auth: bool = typer.Option(False, "--no-auth", help="Allow another --host without RAG_APP_AUTH (trusted network)."),
) -> None:
    """Open the web app: streaming cited chat, sources beside every answer, a paper browser."""
    from ui.app import serve as run_app

    run_app(_settings(), host=host, port=port, mcp=mcp, no_auth=no_auth)


@app.command("eval")
@_friendly
def eval_(
    questions: Path = typer.Option(None, "--questions", help="Golden questions (JSONL); default eval/questions.jsonl."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write all metrics and per-question results here."),
    html_out: Optional[Path] = typer.Option(None, "--html", help="Write an HTML report with plots here."),
    baseline: Path = typer.Option(None, "--baseline", help="Baseline to gate against; default eval/baseline.json."),
    update_baseline: bool = typer.Option(False, "--update-baseline", help="Accept this run as the new baseline."),
    compare: bool = typer.Option(False, "--compare", help="Run several configurations side by side (no gate)."),
    config: list[str] = typer.Option([], "--config", help="Extra configuration 'name:setting=value,...' (repeatable)."),
    index: str = typer.Option("fresh", "--index", help="'fresh': build from the seeds in a temp folder; "
                              "'current': the configured index as it is."),
    llm: bool = typer.Option(False, "--llm", help="Evaluate the LLM mode (default: offline, which the gate uses)."),
    judge: bool = typer.Option(False, "--judge", help="Also ask an LLM judge (needs OPENAI_API_KEY/OPENAI_BASE_URL)."),
) -> None:
    """Evaluate answer quality on the golden questions; exit 1 when a metric got worse than the baseline allows."""
    from eval.cli import run_eval

    code = run_eval(_settings(), questions=questions, json_out=json_out, html_out=html_out, baseline=baseline,
                    update_baseline=update_baseline, compare=compare, configs=config, index=index,
                    mode="llm" if llm else "extractive", judge=judge, echo=typer.echo)
    raise typer.Exit(code)


@app.command("serve-llm")
@_friendly
def serve_llm(
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for every interface)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Another .gguf file (default: the bundled SmolLM2-135M)."),
) -> None:
    """Serve the bundled tiny model (SmolLM2-135M) with llama.cpp's OpenAI-compatible server, until Ctrl-C."""
    from rag.llm.server import WARNING, LocalLLMServer
    from rag.llm.process import port_in_use

    if model is not None and not model.is_file():
        raise RagError(f"no model file at {model}", "give the path of a .gguf file, or leave out --model")
    server = LocalLLMServer(port=port, host=host, model=model)
    if port_in_use(host, port):
        raise RagError(f"port {port} is in use", "pick another one with --port")
    typer.echo(f"warning: {WARNING}", err=True)
    typer.echo(f"starting llama.cpp's server with {server.model.name} on {server.url} ...", err=True)
    _stop_on_signals()
    try:
        try:
            server.start(timeout=120)
        except RuntimeError as e:
            raise RagError(f"the llama.cpp server did not start: {e}", "see its output above") from None
        env = server.client_env()
        typer.echo("ready. In another shell, point rag at it:\n  export " +
                   " ".join(f"{k}={v}" for k, v in env.items()) +
                   '\n  rag ask "How can a large language model be served with less GPU memory?"\nCtrl-C stops the server.')
        server.proc.wait()  # type: ignore[union-attr]
    except KeyboardInterrupt:
        typer.echo("stopping the server", err=True)
    finally:
        server.stop()  # never leave the llama.cpp server running without us
    code = server.proc.returncode if server.proc is not None else None
    if code not in (0, -2, -15, None):
        raise RagError(f"the llama.cpp server exited with code {code}", "see its output above")


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM (a supervisor, `kill`) both end a long-running command through its cleanup, even
    when SIGINT was ignored by whoever started us (a shell's background job inherits SIG_IGN)."""
    import signal

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, interrupt)
