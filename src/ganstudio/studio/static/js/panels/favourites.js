/* Favourites: everything liked (or disliked), of this run or all, sketch paintings included. */
import { api } from "../api.js";
import { $, $$, el, fail } from "../dom.js";
import { fill } from "../pictures.js";
import { S } from "../state.js";
import { onEnter } from "../tabs.js";

async function loadFavourites() {
  const value = $("#fav-filter").value;
  const scope = $("#fav-scope").value === "run" && S.run ? `&run=${S.run}` : "";
  try {
    const r = await api(`/api/favourites?value=${value}${scope}`);
    fill($("#fav-grid"), r.images, { label: true });
    for (const [i, c] of $$("#fav-grid .card").entries()) {
      const lab = c.querySelector(".label"); if (lab) lab.textContent = r.images[i].run;
    }
    if (!r.images.length) $("#fav-grid").append(el("p", { class: "muted", text: value === "1" ? "No favourites yet: press ♥ under a picture." : "Nothing disliked." }));
  } catch (e) { fail(e); }
}

export function wire() {
  onEnter("favourites", loadFavourites);
  $("#fav-filter").addEventListener("change", loadFavourites);
  $("#fav-scope").addEventListener("change", loadFavourites);
}
