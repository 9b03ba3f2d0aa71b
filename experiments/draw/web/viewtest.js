// The test-set viewer: a page of test images at a time from /api/test, with the filters kept in the
// address (so a reload or a link shows the same page); a click asks /api/test/<index> for all the
// network's outputs for that image.
"use strict";

const PER_PAGE = 60;
const controls = Object.fromEntries(["run", "show", "label", "order"].map((id) => [id, document.getElementById(id)]));
const grid = document.getElementById("grid");
const errorLine = document.getElementById("error");
let runs = [];
let page = 1;
let pages = 1;
let loading = 0;

function run() {
  return runs.find((r) => String(r.id) === controls.run.value);
}

function fillLabels() {
  const chosen = controls.label.value;
  controls.label.length = 1;
  run().classes.forEach((name, k) => controls.label.append(new Option(name, String(k))));
  controls.label.value = run().classes[Number(chosen)] !== undefined ? chosen : "";
}

async function load() {
  const mine = ++loading;
  document.body.dataset.state = "loading";
  const query = new URLSearchParams({ run: controls.run.value, show: controls.show.value, order: controls.order.value,
                                      page: String(page), per_page: String(PER_PAGE) });
  if (controls.label.value !== "") query.set("label", controls.label.value);
  try {
    const answer = await api("/api/test?" + query);
    if (mine !== loading) return; // a newer choice is on its way
    page = answer.page;
    pages = answer.pages;
    show(answer);
    errorLine.textContent = "";
    document.body.dataset.state = "shown";
  } catch (err) {
    if (mine !== loading) return;
    if (page > 1) { // an address or a bookmark past the last page: show the first instead
      page = 1;
      remember();
      return load();
    }
    errorLine.textContent = err.message;
    document.body.dataset.state = "error";
  }
}

function show(answer) {
  const classes = run().classes;
  const noun = run().noun;
  document.getElementById("summary").textContent =
    `${answer.images} test ${noun}s (${answer.source}): ${answer.mistakes} mistakes, accuracy ` +
    `${(100 * answer.accuracy).toFixed(2)}%. Showing ${answer.count} of them.`;
  document.body.dataset.count = answer.count;
  document.getElementById("page").textContent = `page ${answer.page} of ${answer.pages}`;
  document.getElementById("prev").disabled = answer.page <= 1;
  document.getElementById("next").disabled = answer.page >= answer.pages;
  grid.innerHTML = "";
  for (const item of answer.items) {
    const figure = document.createElement("figure");
    figure.className = "item " + (item.answer === item.label ? "right" : "wrong");
    Object.assign(figure.dataset, { index: item.index, label: item.label, answer: item.answer, confidence: item.confidence });
    const image = document.createElement("img");
    image.src = item.image;
    image.alt = `test ${noun} ${item.index}`;
    const caption = document.createElement("figcaption");
    const confidence = run().kind === "p" ? `${(100 * item.confidence).toFixed(0)}%` : item.confidence.toFixed(2);
    caption.textContent = `${classes[item.answer]} ${confidence}` +
      (item.answer === item.label ? "" : ` (is ${classes[item.label]})`);
    figure.append(image, caption);
    figure.addEventListener("click", () => details(item.index, figure));
    grid.append(figure);
  }
}

async function details(index, figure) {
  for (const chosen of grid.querySelectorAll(".chosen")) chosen.classList.remove("chosen");
  figure.classList.add("chosen");
  const asked = controls.run.value;
  try {
    const item = await api(`/api/test/${index}?run=${asked}`);
    if (asked !== controls.run.value || !figure.isConnected) return; // another run or page was chosen meanwhile
    const classes = run().classes;
    document.getElementById("details-image").src = item.image;
    document.getElementById("details-title").textContent =
      `${run().noun} ${item.index}: is ${classes[item.label]}, answered ${classes[item.answer]}`;
    drawBars(document.getElementById("details-bars"),
             item.outputs.map((value, k) => ({ class: k, label: classes[k], value })), item.label);
    document.getElementById("details-kind").textContent =
      item.kind === "p" ? "the ten probabilities (bold: the true class)" : "the ten output activations (bold: the true class)";
    const panel = document.getElementById("details");
    panel.hidden = false;
    panel.dataset.index = item.index;
  } catch (err) {
    errorLine.textContent = err.message;
  }
}

function remember() {
  setAddress("run", controls.run.value === "0" ? "" : controls.run.value);
  for (const name of ["show", "label", "order"]) {
    setAddress(name, controls[name].value === controls[name].options[0].value ? "" : controls[name].value);
  }
  setAddress("page", page > 1 ? page : "");
  document.getElementById("to-draw").href = "/draw" + (controls.run.value === "0" ? "" : "?run=" + controls.run.value);
}

for (const [name, control] of Object.entries(controls)) {
  control.addEventListener("change", () => {
    if (name === "run") fillLabels();
    page = 1;
    document.getElementById("details").hidden = true;
    remember();
    load();
  });
}
document.getElementById("prev").addEventListener("click", () => { page = Math.max(1, page - 1); remember(); load(); });
document.getElementById("next").addEventListener("click", () => { page = Math.min(pages, page + 1); remember(); load(); });

(async () => {
  try {
    runs = (await api("/api/runs")).runs;
  } catch (err) {
    errorLine.textContent = "cannot reach the server: " + err.message;
    document.body.dataset.state = "error";
    return;
  }
  fillRunSelect(controls.run, runs, runFromAddress(runs));
  const address = new URLSearchParams(location.search);
  fillLabels();
  for (const name of ["show", "label", "order"]) {
    const value = address.get(name);
    if (value !== null && [...controls[name].options].some((o) => o.value === value)) controls[name].value = value;
  }
  page = Math.max(1, Math.floor(Number(address.get("page"))) || 1);
  remember();
  load();
})();
