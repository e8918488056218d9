"""The Gradio app (issue 5). It will call rag's public API only, never the store."""
