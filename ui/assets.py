"""The page's own CSS and script (inline: the page loads nothing from outside 127.0.0.1)."""

CSS = """
#sources .panel, #compare-sources .panel { max-height: 80vh; overflow-y: auto; padding-right: 4px; }
#sources .empty, #paper-detail .empty, #compare-sources .empty { color: var(--body-text-color-subdued); padding: 1em; }
#sources details.turn > summary.question { font-weight: 600; cursor: pointer; margin: 0.3em 0; }
#sources details.turn:not([open]) { opacity: 0.75; }
:is(#sources, #compare-sources) .source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.5em 0.8em;
                   margin: 0.5em 0; transition: box-shadow 0.3s; }
:is(#sources, #compare-sources) .source > summary { cursor: pointer; }
:is(#sources, #compare-sources) .source .num { font-weight: 700; color: var(--color-accent); }
:is(#sources, #compare-sources) .source .title { font-weight: 600; }
#sources .source:not(.cited) { opacity: 0.8; }
.meta { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 0.2em 0 0.4em; }
.abstract { font-size: 0.92em; line-height: 1.45; }
mark.support { background: #fde68a; color: inherit; padding: 0 1px; border-radius: 2px; }
.flag { font-size: 0.88em; color: #9a3412; background: #ffedd5; border-radius: 6px; padding: 0.3em 0.5em;
        margin: 0.3em 0; }
.abstain { font-weight: 600; margin: 0.4em 0; }
.others { font-size: 0.85em; color: var(--body-text-color-subdued); margin-top: 0.8em; }
:is(#sources, #compare-sources) .source.flash { box-shadow: 0 0 0 3px var(--color-accent); }
#chat a.cite { font-weight: 600; text-decoration: none; cursor: pointer; color: var(--color-accent); }
#chat a.cite:hover { text-decoration: underline; }
#compare-sources .source.picked { border-color: var(--color-accent); }
:is(#compare-table, #papers-table) :is(.header-table, .virtual-row) { font-family: var(--font); }
#compare-table [role="gridcell"] { cursor: pointer; }
#compare-table [role="gridcell"] .cell-wrap { align-items: flex-start; }
.figures, .figures p { font-size: 0.8em !important; color: var(--body-text-color-subdued); }
.links { font-size: 0.85em; margin: 0 0 0.4em; }
.links a.paper-link { color: var(--color-accent); text-decoration: none; }
.links a.paper-link:hover { text-decoration: underline; }
#paper-detail .authors { font-size: 0.9em; margin: 0.2em 0; }
#upload-report .empty, #upload-sources .empty { color: var(--body-text-color-subdued); padding: 0.5em 0; }
.upload-report { font-size: 0.92em; }
.upload-report .counts { font-size: 1.05em; margin-bottom: 0.3em; }
.upload-report.error { color: #9a3412; background: #ffedd5; border-radius: 6px; padding: 0.5em 0.7em; }
.upload-report .problems, .upload-report .others { font-size: 0.9em; color: var(--body-text-color-subdued); }
.upload-report ul { margin: 0.2em 0 0.4em 1.2em; }
table.sources-list { font-size: 0.88em; width: 100%; margin-top: 0.6em; }
table.sources-list th { text-align: left; font-weight: 600; }
"""

# Citation links ([n] in an answer) open and scroll to their source in the panel. Capture phase, so the
# chat's own link handling (which opens links in a new tab) never sees them.
HEAD = """
<script>
// Open a card of a sources panel, scroll the panel to it, and flash it; the page scrolls only when the panel is
// off screen. Used by citation links in the chat and by clicks in the Compare table, which pass the highlighted
// sentence as `focus`: shown rather than the card's top if that would leave it below the panel's part on screen.
window.ragShowCard = function (el, focus) {
  for (var p = el; p; p = p.parentElement) { if (p.tagName === "DETAILS") p.open = true; }
  var panel = el.closest(".panel") || el.parentElement;
  var pr = panel.getBoundingClientRect();
  var top = Math.max(pr.top, 0), bottom = Math.min(pr.bottom, window.innerHeight);  // the panel's part on screen
  var by = el.getBoundingClientRect().top - top - 8;  // how far the panel scrolls: the card to the top
  if (focus) {
    var f = focus.getBoundingClientRect();
    if (f.bottom - by > bottom - 16) by = f.top - top - (bottom - top) / 3;
    by = Math.min(Math.max(panel.scrollTop + by, 0), panel.scrollHeight - panel.clientHeight) - panel.scrollTop;
    var below = f.bottom - by - (window.innerHeight - 16);  // a panel taller than the screen: the page scrolls too
    if (below > 0) window.scrollBy({top: below, behavior: "smooth"});
  }
  panel.scrollTo({top: panel.scrollTop + by, behavior: "smooth"});
  if (pr.bottom < 0 || pr.top > window.innerHeight) el.scrollIntoView({behavior: "smooth", block: "start"});
  el.classList.remove("flash"); void el.offsetWidth; el.classList.add("flash");
  setTimeout(function () { el.classList.remove("flash"); }, 2500);
};
document.addEventListener("click", function (ev) {
  var a = ev.target && ev.target.closest ? ev.target.closest('a[href^="#src-"]') : null;
  if (!a) return;
  ev.preventDefault();
  ev.stopPropagation();
  var el = document.getElementById(a.getAttribute("href").slice(1));
  if (el) window.ragShowCard(el);
}, true);
</script>
"""

# Run once the page is built (launch(js=...)): a new answer's sources start at the top of the panel,
# not where the last citation click left it; a click in the Compare table shows its card. Watches the panels
# (and the page only until the Compare tab is first opened), so streaming the chat costs next to nothing.
ON_LOAD = """() => {
  const sources = document.getElementById("sources");
  if (sources) new MutationObserver(() => {
    const p = sources.querySelector(".panel");
    if (p && p.dataset.turns !== sources.dataset.turns) { sources.dataset.turns = p.dataset.turns; p.scrollTop = 0; }
  }).observe(sources, {childList: true, subtree: true});
  // the Compare tab (built when first opened, then kept): a clicked cell re-renders its panel with a new
  // data-pick: scroll to and flash the picked card.
  const watchCompare = () => {
    const compared = document.getElementById("compare-sources");
    if (!compared) return false;
    new MutationObserver(() => {
      const p = compared.querySelector(".panel");
      const pick = p ? p.dataset.pick : "";
      if (pick === compared.dataset.pick) return;
      compared.dataset.pick = pick;
      const card = pick && p.querySelector(".source.picked");
      if (card) window.ragShowCard(card, card.querySelector("mark"));
    }).observe(compared, {childList: true, subtree: true});
    return true;
  };
  if (!watchCompare()) {
    const waiting = new MutationObserver(() => { if (watchCompare()) waiting.disconnect(); });
    waiting.observe(document.body, {childList: true, subtree: true});
  }
}"""

# "Copy answer with references": the clipboard when the page may write to it (a secure context: 127.0.0.1, https);
# otherwise, or when refused, the text is opened and selected below the button to copy by hand. The button says which.
COPY_REFERENCES = """(text) => {
  const btn = document.getElementById("copy-refs");
  const say = (label) => {
    if (!btn) return;
    btn.dataset.label = btn.dataset.label || btn.textContent;
    btn.textContent = label;
    clearTimeout(btn._reset);
    btn._reset = setTimeout(() => { btn.textContent = btn.dataset.label; }, 2500);
  };
  const area = () => document.querySelector("#refs-text textarea");
  const byHand = () => {
    const shown = area();
    if (!shown || !shown.offsetParent) {  // the accordion is closed (its content is not even built): open it
      const head = document.querySelector("#refs-box .label-wrap");
      if (head) head.click();
    }
    let frames = 0;
    const select = () => {  // once the text is on the page: select it, and try the old way of copying
      const a = area();
      if (!a || !a.offsetParent) { if (++frames < 120) requestAnimationFrame(select); return; }
      a.focus(); a.select();
      let copied = false;
      try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
      say(copied ? "Copied ✓" : "Selected below: press Ctrl+C");
    };
    requestAnimationFrame(select);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text || "").then(() => say("Copied ✓"), byHand);
  } else {
    byHand();
  }
  return [];
}"""
