// The server's public API as the page calls it: exactly what any client can send.
// URLs are relative to the page, so the page also works behind a proxy that mounts the server
// under a path prefix.

/** The API key typed into the page. Memory only: never written to storage, gone on reload. */
export const settings = { apiKey: "" };

/** An API call that failed, with a message for a person. `status` 0: the server was not reached. */
export class ApiError extends Error {
  constructor(message, { status = 0, code = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

export function apiUrl(path) {
  return new URL(path, document.baseURI).href;
}

export function realtimeUrl() {
  const url = new URL("v1/realtime?intent=transcription", document.baseURI);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

// RFC 7230 token characters: what a WebSocket subprotocol may hold.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The subprotocols to offer on the realtime WebSocket. A browser cannot set an Authorization
 * header on a WebSocket, so the key travels as the subprotocol `openai-insecure-api-key.KEY`,
 * the mechanism OpenAI's realtime API offers browsers; "realtime" is the one the server picks.
 */
export function realtimeProtocols() {
  if (!settings.apiKey) return ["realtime"];
  if (!TOKEN.test(settings.apiKey)) {
    throw new ApiError("This API key has characters that a browser cannot send when it opens a " +
      "WebSocket (only letters, digits and !#$%&'*+-.^_`|~ can go); live dictation needs a key " +
      "without them. File transcription works with any key.", { code: "key_not_a_token" });
  }
  return ["realtime", `openai-insecure-api-key.${settings.apiKey}`];
}

function authorization() {
  return settings.apiKey ? { Authorization: `Bearer ${settings.apiKey}` } : {};
}

/** fetch() an API path with the key; resolves to the Response when it is 2xx, else throws ApiError. */
export async function request(path, init = {}) {
  let response;
  try {
    response = await fetch(apiUrl(path), { ...init, headers: { ...authorization(), ...(init.headers || {}) } });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw unreachable();
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

export function unreachable() {
  return new ApiError(`Cannot reach the server at ${location.host}: the connection failed. Is ` +
    "lumina serve still running?", { status: 0, code: "unreachable" });
}

/** The ApiError of a 4xx/5xx answer: what it means for a person, then the server's own words. */
export async function errorOf(response) {
  let detail = "";
  let code = null;
  try {
    const body = await response.json();
    detail = body?.error?.message || "";
    code = body?.error?.code || null;
  } catch {
    // not OpenAI's error JSON: the status says enough
  }
  const status = response.status;
  let message;
  if (status === 401) {
    message = settings.apiKey ? "The server refused this API key (401)."
      : "This server needs an API key (401): enter it under Connection.";
  } else if (status === 413) {
    message = "The file is larger than this server accepts (413).";
  } else if (status === 503) {
    const retry = response.headers.get("Retry-After");
    message = `The server is busy or its model is unavailable (503)${retry ? `; try again in ${retry} s` : ""}.`;
  } else if (status === 504) {
    message = "The server gave up: the transcription took longer than its time limit (504).";
  } else if (status >= 500) {
    message = `The server failed (${status}).`;
  } else {
    message = `The server refused the request (${status}).`;
  }
  // A 401's own words tell a client which header to send; a person needs only to type the key.
  const own = detail && status !== 401;
  return new ApiError(own ? `${message} ${detail}` : message, { status, code });
}

/** The served model names, the default first. */
export async function listModels() {
  const response = await request("v1/models");
  const body = await response.json();
  return body.data.map((model) => model.id);
}
