// The draw page: strokes on a 280x280 canvas, sent as a PNG to /api/predict while drawing (at most
// one request at a time, the newest drawing wins) and when each stroke ends. The server prepares the
// drawing the way MNIST was made and sends back the 28x28 input it used, shown as the preview: the
// page never prepares images itself.
"use strict";

const PEN_WIDTH = 20; // px on the 280-px pad: about MNIST's stroke width once scaled into 20x20
const THROTTLE_MS = 120;
const pad = document.getElementById("pad");
const ink = pad.getContext("2d");
const preview = document.getElementById("preview");
const runSelect = document.getElementById("run");
const compareSelect = document.getElementById("compare");
const answers = document.getElementById("answers");
const errorLine = document.getElementById("error");
const hint = document.getElementById("hint");

let runs = [];
let strokes = 0;        // strokes finished on the pad since it was cleared
let drawing = null;     // the pointer that draws, while it is down
let last = null;
let busy = false;       // a request is out
let again = false;      // the drawing changed while it was out
let lastSent = 0;
let throttle = null;
let drawingNumber = 0;  // one more at every clear: answers to an earlier drawing are dropped

function setState(state) {
  document.body.dataset.state = state;
}

function clearPad() {
  drawingNumber += 1;
  clearTimeout(throttle);
  ink.fillStyle = "#fff";
  ink.fillRect(0, 0, pad.width, pad.height);
  strokes = 0;
  document.body.dataset.strokes = "0";
  document.body.dataset.answeredStrokes = "0";
  answers.innerHTML = "";
  errorLine.textContent = "";
  hint.textContent = "Draw a digit";
  preview.getContext("2d").clearRect(0, 0, 28, 28);
  setState("empty");
}

function point(event) {
  const box = pad.getBoundingClientRect();
  return [(event.clientX - box.left) * pad.width / box.width, (event.clientY - box.top) * pad.height / box.height];
}

function dot([x, y]) {
  ink.beginPath();
  ink.arc(x, y, PEN_WIDTH / 2, 0, 2 * Math.PI);
  ink.fill();
}

function line(from, to) {
  ink.beginPath();
  ink.moveTo(...from);
  ink.lineTo(...to);
  ink.stroke();
}

pad.addEventListener("pointerdown", (event) => {
  if (drawing !== null || (event.pointerType === "mouse" && event.button !== 0)) return;
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  drawing = event.pointerId;
  ink.fillStyle = ink.strokeStyle = "#000";
  ink.lineWidth = PEN_WIDTH;
  ink.lineCap = ink.lineJoin = "round";
  last = point(event);
  dot(last);
  setState("drawing");
  ask(false);
});

pad.addEventListener("pointermove", (event) => {
  if (event.pointerId !== drawing) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const e of events.length ? events : [event]) {
    const p = point(e);
    line(last, p);
    last = p;
  }
  ask(false);
});

function endStroke(event) {
  if (event.pointerId !== drawing) return;
  drawing = null;
  strokes += 1;
  document.body.dataset.strokes = String(strokes);
  ask(true);
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

// Ask the networks about the pad as it is now: at once when a stroke ends, else at most every
// THROTTLE_MS; never two requests at a time (the newest drawing is sent when the last returns).
function ask(now) {
  if (strokes === 0 && drawing === null) return;
  if (busy) { again = true; return; }
  const wait = now ? 0 : THROTTLE_MS - (Date.now() - lastSent);
  clearTimeout(throttle);
  if (wait > 0) { throttle = setTimeout(() => ask(true), wait); return; }
  send();
}

function chosenRuns() {
  const ids = [Number(runSelect.value)];
  if (compareSelect.value !== "" && Number(compareSelect.value) !== ids[0]) ids.push(Number(compareSelect.value));
  return ids;
}

async function send() {
  busy = true;
  again = false;
  lastSent = Date.now();
  const finished = drawing === null ? strokes : null; // the drawing these answers are for, if complete
  const number = drawingNumber;
  try {
    const png = padPng();
    const ids = chosenRuns();
    const results = await Promise.all(ids.map((id) =>
      api(`/api/predict?run=${id}&top=3`, { method: "POST", headers: { "Content-Type": "image/png" }, body: png })));
    if (number !== drawingNumber) return; // the pad was cleared meanwhile
    showPreview(results[0].input);
    showAnswers(results);
    errorLine.textContent = "";
    if (finished !== null) document.body.dataset.answeredStrokes = String(finished);
    setState(drawing === null ? "answered" : "drawing");
    hint.textContent = "Draw more, or clear and draw another";
  } catch (err) {
    if (number !== drawingNumber) return;
    errorLine.textContent = err.message;
    if (finished !== null) document.body.dataset.answeredStrokes = String(finished);
    setState("error");
  } finally {
    busy = false;
    if (again) ask(drawing === null);
  }
}

// The pad as PNG bytes. Encoded at once: Chromium runs toBlob's encoding in idle time, which a
// busy page may not have for a second.
function padPng() {
  const base64 = pad.toDataURL("image/png").split(",")[1];
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new Blob([bytes], { type: "image/png" });
}

function showPreview(values) {
  const context = preview.getContext("2d");
  const image = context.createImageData(28, 28);
  values.forEach((v, i) => {
    const level = Math.round(255 * v);
    image.data.set([level, level, level, 255], 4 * i);
  });
  context.putImageData(image, 0, 0);
}

function showAnswers(results) {
  answers.innerHTML = "";
  for (const result of results) {
    const run = runs.find((r) => r.id === result.run);
    const panel = document.createElement("div");
    panel.className = "answer";
    panel.dataset.run = result.run;
    panel.dataset.answer = result.top[0].class;
    const title = document.createElement("h2");
    title.textContent = runLabel(run);
    const verdict = document.createElement("div");
    verdict.className = "verdict";
    verdict.textContent = result.top[0].label;
    const list = document.createElement("ol");
    list.className = "bars";
    drawBars(list, result.top, null);
    const what = document.createElement("div");
    what.className = "muted";
    what.textContent = result.kind === "p" ? "top 3, probability" : "top 3, output activation";
    panel.append(title, verdict, list, what);
    answers.append(panel);
  }
}

function choose() {
  setAddress("run", runSelect.value === "0" ? "" : runSelect.value);
  setAddress("compare", compareSelect.value);
  document.getElementById("to-viewtest").href = "/viewtest" + (runSelect.value === "0" ? "" : "?run=" + runSelect.value);
  if (strokes > 0) ask(true);
}
runSelect.addEventListener("change", choose);
compareSelect.addEventListener("change", choose);
document.getElementById("clear").addEventListener("click", clearPad);

(async () => {
  clearPad();
  try {
    runs = (await api("/api/runs")).runs;
  } catch (err) {
    errorLine.textContent = "cannot reach the server: " + err.message;
    setState("error");
    return;
  }
  fillRunSelect(runSelect, runs, runFromAddress(runs));
  const compare = new URLSearchParams(location.search).get("compare");
  fillRunSelect(compareSelect, runs, runs.some((r) => String(r.id) === compare) ? Number(compare) : null, "nothing");
  compareSelect.disabled = runs.length < 2;
  choose();
  setState("empty");
})();
