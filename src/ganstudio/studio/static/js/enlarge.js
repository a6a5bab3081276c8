/* How small pictures are enlarged. A model of 64 px or less makes pictures the page shows many times
   their size: by default they are enlarged crisply (nearest neighbour: every generated pixel stays a
   sharp square, nothing is invented between them); "Smooth enlargement" switches to the browser's
   interpolation, and the choice is remembered on this computer. */
const CRISP_MAX = 64; // px: pictures this wide or narrower are enlarged crisply
const KEY = "ganstudio.smooth";

function mark(img) {
  img.classList.toggle("crisp", img.naturalWidth > 0 && img.naturalWidth <= CRISP_MAX);
}

export function wireEnlarge() {
  // One listener for every picture the panels add or change: "load" does not bubble, so capture it.
  document.addEventListener("load", (e) => { if (e.target instanceof HTMLImageElement) mark(e.target); }, true);
  document.querySelectorAll("img").forEach((img) => { if (img.complete) mark(img); });
  const box = document.getElementById("smooth-toggle");
  const apply = (smooth) => document.body.classList.toggle("smooth", smooth);
  let saved = false;
  try { saved = localStorage.getItem(KEY) === "1"; } catch { /* storage off: the default */ }
  box.checked = saved;
  apply(saved);
  box.addEventListener("change", () => {
    apply(box.checked);
    try { localStorage.setItem(KEY, box.checked ? "1" : "0"); } catch { /* not remembered */ }
  });
}
