/* Breed: children of two or more parents (or of your own picture, found by projection); lineage. */
import { api } from "../api.js";
import { $, el, fail, toast } from "../dom.js";
import { closeViewer, describe, fill, onViewerAction } from "../pictures.js";
import { onRunChange } from "../picker.js";
import { S } from "../state.js";
import { showTab } from "../tabs.js";

function addParent(pic) {
  if (S.parents.find((p) => p.id === pic.id)) return;
  if (S.parents.length >= 8) { toast("At most 8 parents", true); return; }
  S.parents.push(pic); renderParents();
}
export function renderParents() {
  $("#parents").replaceChildren(...S.parents.map((p, i) => el("div", { class: "slot" },
    el("img", { src: p.image, alt: `Parent ${i + 1}, ${describe(p.latent)}` }),
    el("button", { type: "button", "aria-label": `Remove parent ${i + 1}`, text: "×",
      onclick: () => { S.parents.splice(i, 1); renderParents(); } }))));
  if (!S.parents.length) $("#parents").append(el("p", { class: "muted small", text: "No parents yet." }));
}

async function breed(ev) {
  ev.preventDefault();
  if (S.parents.length < 2) { toast("Choose at least two parents", true); return; }
  const f = $("#breed-form");
  try {
    const r = await api("/api/breed", { body: { run: S.run, checkpoint: S.checkpoint,
      parents: S.parents.map((p) => p.latent), n: +f.n.value, mutation: +f.mutation.value, mode: f.mode.value } });
    fill($("#children"), r.images, { extra: (pic) => el("span", {},
      el("button", { type: "button", text: "Parent", "aria-label": "Use as a parent", onclick: () => addParent(pic) }),
      el("button", { type: "button", text: "Lineage", "aria-label": "Show lineage", onclick: () => showLineage(pic.id) })) });
    $("#breed-note").textContent = `${r.images.length} children of ${S.parents.length} parents (${f.mode.value}, mutation ${(+f.mutation.value).toFixed(2)})`;
  } catch (e) { fail(e); }
}

async function project() {
  const file = $("#project-file").files[0];
  if (!file) return;
  const form = new FormData();
  form.append("run", S.run); form.append("checkpoint", S.checkpoint); form.append("file", file);
  $("#breed-note").textContent = "Finding your picture in the model…";
  try {
    const r = await api("/api/project", { form });
    addParent(r.images[0]);
    $("#breed-note").textContent = r.note || "Projected";
  } catch (e) { fail(e); $("#breed-note").textContent = ""; }
}

async function showLineage(id) {
  try {
    const r = await api(`/api/lineage/${id}`);
    const byId = Object.fromEntries(r.nodes.map((n) => [n.id, n]));
    const gens = []; let level = [id]; const seen = new Set();
    while (level.length && gens.length < 12) {
      gens.push(level.filter((x) => byId[x]));
      level.forEach((x) => seen.add(x));
      level = [...new Set(level.flatMap((x) => (byId[x] ? byId[x].parents : [])).filter((x) => !seen.has(x)))];
    }
    $("#lineage-tree").replaceChildren(...gens.map((g, i) => el("div", { class: "gen" },
      el("span", { class: "who", text: i === 0 ? "this picture" : i === 1 ? "parents" : i === 2 ? "grandparents" : `${i} generations up` }),
      ...g.map((x) => el("img", { src: byId[x].image || "", alt: `Ancestor, ${describe(byId[x].latent)}` })))));
    $("#lineage").hidden = false;
  } catch (e) { fail(e); }
}

export function wire() {
  onViewerAction("breed", (pic) => { addParent(pic); toast("Added as a parent (Breed)"); });
  onViewerAction("lineage", (pic) => { closeViewer(); showTab("breed"); showLineage(pic.id); });
  onRunChange(({ changed }) => { if (changed) renderParents(); }); // parents belong to one run's model
  $("#breed-form").addEventListener("submit", breed);
  $("#parents-clear").addEventListener("click", () => { S.parents = []; renderParents(); });
  $("#project-file").addEventListener("change", project);
}
