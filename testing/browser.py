"""Driving the app in Debian's chromium with Playwright: shared by tests/test_ui_browser.py and bench/ui_latency.py.

Never `playwright install` (its browser download does not work offline): Playwright drives /usr/bin/chromium.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
QUESTION = "#question input"

# Installed on the page before Enter is pressed: records when Enter went down and when the first
# answer text (not the "Searching" placeholder) appeared in a new bot message.
WATCH_FIRST_TEXT = """() => {
  const chat = document.querySelector('#chat');
  const bots = () => chat.querySelectorAll('[data-testid="bot"]');
  const n0 = bots().length;
  window.__ttft = {};
  document.querySelector('#question input').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !window.__ttft.enter) window.__ttft.enter = performance.now();
  }, {capture: true});
  const obs = new MutationObserver(() => {
    const b = bots();
    if (b.length <= n0) return;
    const text = b[b.length - 1].innerText.trim();
    if (text && !text.startsWith('Searching')) { window.__ttft.first = performance.now(); obs.disconnect(); }
  });
  obs.observe(chat, {subtree: true, childList: true, characterData: true});
}"""


def launch_chromium(playwright: Any) -> Any:
    """Debian's chromium, headless, with nothing of its own reaching out to the network."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def ask(page: Any, question: str, turn: int) -> float:
    """Type a question, press Enter, wait for the finished answer of that turn; ms from Enter to the first text."""
    page.evaluate(WATCH_FIRST_TEXT)
    page.fill(QUESTION, question)
    page.press(QUESTION, "Enter")
    page.wait_for_function("() => window.__ttft && window.__ttft.first", timeout=30_000)
    page.wait_for_selector(f'#sources details.turn[data-turn="{turn}"][open]', timeout=30_000)
    page.wait_for_function("() => !document.querySelector('#chat').innerText.includes('▍')", timeout=30_000)
    return page.evaluate("() => window.__ttft.first - window.__ttft.enter")
