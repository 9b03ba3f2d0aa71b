// Shared by the draw page and the test-set viewer: the runs the server offers, the run chosen in
// the address (?run=2, so a link or a reload keeps it), and drawing a list of ten bars.
"use strict";

async function api(path, options) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new Error("the server does not answer: is it still running? (start it again, then reload this page)");
  }
  const body = await response.json().catch(() => ({ error: `the server answered ${response.status}` }));
  if (!response.ok) throw new Error(body.error || `the server answered ${response.status}`);
  return body;
}

function runFromAddress(runs, name = "run", fallback = 0) {
  const value = new URLSearchParams(location.search).get(name);
  const id = value === null || value === "" ? fallback : Number(value);
  return runs.some((r) => r.id === id) ? id : fallback;
}

function setAddress(name, value) {
  const params = new URLSearchParams(location.search);
  if (value === null || value === undefined || value === "") params.delete(name);
  else params.set(name, value);
  const query = params.toString();
  history.replaceState(null, "", location.pathname + (query ? "?" + query : ""));
}

function runLabel(run) {
  const acc = run.test_acc === null ? "" : ` (test ${(100 * run.test_acc).toFixed(1)}%)`;
  return run.name + acc;
}

function fillRunSelect(select, runs, chosen, none) {
  select.innerHTML = "";
  if (none) select.append(new Option(none, ""));
  for (const run of runs) select.append(new Option(runLabel(run), String(run.id)));
  select.value = chosen === null ? "" : String(chosen);
}

// rows: [{class, label, value}] best first (or all classes in order); truth: the true class or null.
function drawBars(list, rows, truth) {
  list.innerHTML = "";
  const top = Math.max(1e-9, ...rows.map((r) => r.value));
  for (const row of rows) {
    const item = document.createElement("li");
    item.dataset.class = row.class;
    item.dataset.value = row.value;
    if (row.class === truth) item.classList.add("truth");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = row.label;
    const track = document.createElement("span");
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.display = "block";
    bar.style.width = `${Math.max(0, Math.min(1, row.value / (row.value > 1 ? top : 1))) * 100}%`;
    track.append(bar);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = row.value.toFixed(3);
    item.append(name, track, value);
    list.append(item);
  }
}
