// The page: connection settings (models, API key), the message area, and the two tools.

import { ApiError, listModels, settings } from "./api.js";
import { FileTranscriber } from "./files.js";
import { Dictation } from "./live.js";

const $ = (id) => document.getElementById(id);

const message = {
  box: $("message"),
  text: $("message-text"),
};

/** Show `text` as an error (announced: the box is role="alert"); null hides the box. */
function notify(text) {
  if (!text) {
    message.box.hidden = true;
    message.text.textContent = "";
    return;
  }
  message.text.textContent = text;
  message.box.hidden = false;
}

$("message-dismiss").addEventListener("click", () => notify(null));

const modelSelect = $("model");
const model = () => modelSelect.value;

/** Load the served models (with the key, if one was given); show the key field on a 401. */
async function loadModels() {
  const status = $("connection-status");
  status.textContent = "Loading the models…";
  let names;
  try {
    names = await listModels();
  } catch (error) {
    modelSelect.textContent = "";
    modelSelect.append(new Option("(no models: see the message above)", ""));
    status.textContent = "";
    if (error instanceof ApiError && error.status === 401) showKeyField();
    notify(error.message);
    return false;
  }
  const previous = modelSelect.value;
  modelSelect.textContent = "";
  for (const name of names) modelSelect.append(new Option(name, name));
  if (names.includes(previous)) modelSelect.value = previous;
  status.textContent = `Connected: ${names.length} model${names.length === 1 ? "" : "s"}` +
    `${settings.apiKey ? " (with your API key)" : ""}.`;
  return true;
}

function showKeyField() {
  const wasHidden = $("key-field").hidden;
  $("key-field").hidden = false;
  $("key-actions").hidden = false;
  if (wasHidden) $("api-key").focus();
}

$("connection").addEventListener("submit", async (event) => {
  event.preventDefault();
  settings.apiKey = $("api-key").value.trim();
  notify(null);
  await loadModels();
});

new Dictation(
  {
    button: $("mic"),
    label: $("mic-label"),
    level: $("level"),
    status: $("live-status"),
    finals: $("finals"),
    pending: $("pending"),
    empty: $("transcript-empty"),
    summary: $("latency-summary"),
    clear: $("clear-live"),
  },
  { notify, model },
);

new FileTranscriber(
  {
    form: $("file-form"),
    input: $("file-input"),
    drop: $("drop"),
    format: $("format"),
    submit: $("transcribe"),
    cancel: $("cancel-file"),
    status: $("file-status"),
    result: $("file-result"),
    text: $("file-text"),
    table: $("segments"),
    tableWrap: $("segments-wrap"),
    noTimes: $("no-times"),
    links: { txt: $("download-txt"), srt: $("download-srt"), vtt: $("download-vtt") },
  },
  { notify, model },
);

loadModels().then(() => {
  document.body.dataset.ready = "true"; // for tests and scripts: the first model list was asked for
});
