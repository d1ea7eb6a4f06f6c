// The chat of a call: its log and its form. Messages travel over the peer connection's
// data channel (peer.js), never through the server, and are shown as text only.
const $ = (id) => document.getElementById(id);
const el = { panel: $("chat"), log: $("chat-log"), form: $("chat-form"), input: $("chat-message") };

// The longest line one side sends, and the longest it shows of the other's.
export const MAX_CHAT_CHARS = 2000;

/** Wire the form: send(text) sends a line and says whether it went. */
export function bindChat(send) {
  el.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = el.input.value.trim();
    if (!text) return;
    if (send(text.slice(0, MAX_CHAT_CHARS))) el.input.value = "";
  });
}

/** Show the chat for a call, or hide it and forget its lines (null). */
export function showChat(open) {
  el.panel.hidden = !open;
  if (!open) el.log.replaceChildren();
}

/** Add a line: `who` said `text` at `when` (a Date). */
export function addLine(who, text, when = new Date()) {
  const item = document.createElement("li");
  const time = document.createElement("time");
  time.dateTime = when.toISOString();
  time.textContent = when.toLocaleTimeString([], { timeStyle: "short" });
  const name = document.createElement("strong");
  name.textContent = ` ${who}: `;
  const body = document.createElement("span");
  body.textContent = text.slice(0, MAX_CHAT_CHARS);
  item.append(time, name, body);
  el.log.append(item);
  el.log.scrollTop = el.log.scrollHeight;
}
