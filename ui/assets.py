"""The page's own CSS and script (inline: the page loads nothing from outside 127.0.0.1)."""

CSS = """
#sources .panel { max-height: 80vh; overflow-y: auto; padding-right: 4px; }
#sources .empty, #paper-detail .empty { color: var(--body-text-color-subdued); padding: 1em; }
#sources details.turn > summary.question { font-weight: 600; cursor: pointer; margin: 0.3em 0; }
#sources details.turn:not([open]) { opacity: 0.75; }
#sources .source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.5em 0.8em;
                   margin: 0.5em 0; transition: box-shadow 0.3s; }
#sources .source > summary { cursor: pointer; }
#sources .source .num { font-weight: 700; color: var(--color-accent); }
#sources .source .title { font-weight: 600; }
#sources .source:not(.cited) { opacity: 0.8; }
.meta { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 0.2em 0 0.4em; }
.abstract { font-size: 0.92em; line-height: 1.45; }
mark.support { background: #fde68a; color: inherit; padding: 0 1px; border-radius: 2px; }
.flag { font-size: 0.88em; color: #9a3412; background: #ffedd5; border-radius: 6px; padding: 0.3em 0.5em;
        margin: 0.3em 0; }
.abstain { font-weight: 600; margin: 0.4em 0; }
.others { font-size: 0.85em; color: var(--body-text-color-subdued); margin-top: 0.8em; }
#sources .source.flash { box-shadow: 0 0 0 3px var(--color-accent); }
#chat a.cite { font-weight: 600; text-decoration: none; cursor: pointer; color: var(--color-accent); }
#chat a.cite:hover { text-decoration: underline; }
.figures, .figures p { font-size: 0.8em !important; color: var(--body-text-color-subdued); }
"""

# Citation links ([n] in an answer) open and scroll to their source in the panel. Capture phase, so the
# chat's own link handling (which opens links in a new tab) never sees them.
HEAD = """
<script>
document.addEventListener("click", function (ev) {
  var a = ev.target && ev.target.closest ? ev.target.closest('a[href^="#src-"]') : null;
  if (!a) return;
  ev.preventDefault();
  ev.stopPropagation();
  var el = document.getElementById(a.getAttribute("href").slice(1));
  if (!el) return;
  for (var p = el; p; p = p.parentElement) { if (p.tagName === "DETAILS") p.open = true; }
  // scroll the sources panel only (the chat stays where it is); the window only if the panel is off screen
  var panel = el.closest(".panel") || document.getElementById("sources");
  panel.scrollTo({top: panel.scrollTop + el.getBoundingClientRect().top - panel.getBoundingClientRect().top - 8,
                  behavior: "smooth"});
  var box = panel.getBoundingClientRect();
  if (box.bottom < 0 || box.top > window.innerHeight) el.scrollIntoView({behavior: "smooth", block: "start"});
  el.classList.remove("flash"); void el.offsetWidth; el.classList.add("flash");
  setTimeout(function () { el.classList.remove("flash"); }, 2500);
}, true);
</script>
"""

# Run once the page is built (launch(js=...)): a new answer's sources start at the top of the panel,
# not where the last citation click left it. Watches the panel only, so streaming the chat costs nothing.
ON_LOAD = """() => {
  const sources = document.getElementById("sources");
  if (!sources) return;
  new MutationObserver(() => {
    const p = sources.querySelector(".panel");
    if (p && p.dataset.turns !== sources.dataset.turns) { sources.dataset.turns = p.dataset.turns; p.scrollTop = 0; }
  }).observe(sources, {childList: true, subtree: true});
}"""
