// "While you were away" and "Recent calls": the call history the server keeps (docs/protocol.md,
// the `history` event), shown as text. The page asks for it again whenever it may have changed.
import { durationText, outcomeText } from "./messages.js";

const $ = (id) => document.getElementById(id);
const el = {
  missed: $("missed-calls"),
  missedList: $("missed-list"),
  dismiss: $("dismiss-missed"),
  empty: $("history-empty"),
  list: $("history-list"),
};
// Several reasons to read it again in a moment (call_ended, missed_call, hello) make one request.
const COALESCE_MS = 200;

/**
 * request(event, payload) sends a signaling request; callBack(name) calls
 * someone from the missed calls.
 */
export function createHistory({ request, callBack }) {
  let timer = null;

  async function refresh() {
    const ack = await request("history", {});
    if (!ack.ok) return; // rate limited or unavailable: keep what is shown
    showMissed(ack.missed);
    showCalls(ack.calls);
  }

  async function seen() {
    showMissed([]);
    await request("seen_missed", {});
  }

  function showMissed(missed) {
    // One line per caller: the last time they called, and how many times.
    const byCaller = new Map();
    for (const entry of missed) {
      const count = (byCaller.get(entry.peer)?.count ?? 0) + 1;
      byCaller.set(entry.peer, { last: entry, count }); // oldest first: the last one stays
    }
    el.missedList.replaceChildren(
      ...[...byCaller.entries()].map(([peer, { last, count }]) => {
        const item = document.createElement("li");
        item.className = "d-flex flex-wrap align-items-center gap-2 mb-1";
        const text = document.createElement("span");
        text.textContent = count > 1 ? `${count} missed calls from ${peer}, the last ` : `Missed call from ${peer}, `;
        text.append(timeElement(last.at));
        const button = document.createElement("button");
        button.type = "button";
        button.className = "btn btn-sm btn-primary";
        button.textContent = "Call back";
        button.setAttribute("aria-label", `Call back ${peer}`);
        button.addEventListener("click", () => {
          seen();
          callBack(peer);
        });
        item.append(text, button);
        return item;
      }),
    );
    el.missed.hidden = missed.length === 0;
  }

  function showCalls(calls) {
    el.empty.hidden = calls.length > 0;
    el.list.hidden = calls.length === 0;
    el.list.replaceChildren(
      ...calls.map((entry) => {
        const item = document.createElement("li");
        item.className = "mb-1";
        const who = entry.direction === "outgoing" ? `To ${entry.peer}` : `From ${entry.peer}`;
        const how = outcomeText(entry);
        const long = entry.duration === null ? "" : `, ${durationText(entry.duration)}`;
        item.textContent = `${who}: ${how}${long}, `;
        item.append(timeElement(entry.at));
        return item;
      }),
    );
  }

  el.dismiss.addEventListener("click", seen);

  return {
    /** Read the history again, soon (several calls close together make one request). */
    refresh() {
      clearTimeout(timer);
      timer = setTimeout(refresh, COALESCE_MS);
    },
    /** The missed calls were seen on another page. */
    seenElsewhere() {
      showMissed([]);
    },
  };
}

function timeElement(iso) {
  const time = document.createElement("time");
  time.dateTime = iso;
  const when = new Date(iso);
  const today = new Date().toDateString() === when.toDateString();
  time.textContent = today
    ? `today at ${when.toLocaleTimeString([], { timeStyle: "short" })}`
    : when.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  return time;
}
