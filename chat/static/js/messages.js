// What the page says for a refusal and for the end of a call, in one table,
// keyed by the protocol's stable codes (docs/protocol.md, chat/errors.py).
// The server's `message` may change, so it is shown only for a code this
// table does not know, and no code is ever read out of a message.

export const TEXTS = Object.freeze({
  // The `error` of an {ok: false} answer; `peer` is who the request was about.
  error: Object.freeze({
    unauthorized: "Join with a name first.",
    invalid_name: "A name is 1 to 32 characters: letters a-z, digits 0-9, dot, underscore or hyphen.",
    name_taken: "That name is registered to someone else. Pick another one.",
    invalid_payload: "The message is malformed.",
    payload_too_large: "The message is too large.",
    unknown_event: "The server does not know that event.",
    self_call: "You cannot call yourself.",
    offline: (peer) => `${peer} is not online. If the name is registered, ${peer} will see that you called.`,
    busy: (peer) => `${peer} is in another call and will see that you called.`,
    already_in_call: "You are already in a call. Hang up first.",
    no_such_call: "That call has already ended.",
    not_ringing: "That call is no longer ringing.",
    not_active: "That call has not been accepted yet.",
    not_allowed: "Only the person called can accept or decline, and only the caller can cancel.",
    rate_limited: "Too many attempts. Wait a few minutes and try again.",
    internal: "Something went wrong on the server.",
    unavailable: "The service is unavailable right now. Try again in a moment.",
    // Client side only (signaling.js): no acknowledgement in time.
    timeout: "The server did not answer. Check your connection.",
  }),
  // The `reason` of call_ended, for the call `c` ({peer, role}); `byMe` when
  // this user caused it.
  ended: Object.freeze({
    declined: (c, byMe) => (byMe ? "You declined the call." : `${c.peer} declined the call.`),
    cancelled: (c, byMe) => (byMe ? "Call cancelled." : `Missed call: ${c.peer} cancelled.`),
    no_answer: (c) => (c.role === "caller" ? `${c.peer} did not answer.` : `Missed call from ${c.peer}.`),
    hangup: (c, byMe) => (byMe ? "Call ended." : `${c.peer} hung up.`),
    left: (c, byMe) => (byMe ? "Call ended." : `${c.peer} left.`),
    failed: (c, byMe) => (byMe ? "The call failed." : `The call failed: no connection could be made with ${c.peer}.`),
    gone: (c, byMe) => (byMe ? "Call ended: you were away too long." : `${c.peer} left: the connection was lost.`),
    // Client side only: the other side's page closed and did not come back (main.js, peerGone).
    page_closed: (c) => `${c.peer} closed the call.`,
  }),
  // A call of the history (docs/protocol.md, CallEntry): its `outcome`, by direction.
  outcome: Object.freeze({
    incoming: Object.freeze({
      answered: "Answered",
      failed: "Answered, but could not connect",
      declined: "Declined",
      cancelled: "Missed: the caller hung up",
      missed: "Missed",
    }),
    outgoing: Object.freeze({
      answered: "Answered",
      failed: "Answered, but could not connect",
      declined: "Declined",
      cancelled: "Cancelled",
      missed: "Not answered",
    }),
  }),
});

/** Say what became of a call of the history, from its entry {direction, outcome}. */
export function outcomeText({ direction, outcome }) {
  const texts = TEXTS.outcome[direction === "outgoing" ? "outgoing" : "incoming"];
  return Object.hasOwn(texts, outcome) ? texts[outcome] : "Ended";
}

/** Say the seconds of a call as people do: "45 s", "3 min 12 s", "1 h 2 min". */
export function durationText(seconds) {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h) return `${h} h ${m} min`;
  return m ? `${m} min ${s} s` : `${s} s`;
}

/** Say why a request was refused, from its answer {error, message}. */
export function errorText({ error, message } = {}, peer = null) {
  const text = Object.hasOwn(TEXTS.error, error) ? TEXTS.error[error] : null;
  if (typeof text === "function") return text(peer);
  return text || message || "Something went wrong.";
}

/** Say why `call` ended, from call_ended's reason. */
export function endedText(reason, call, byMe) {
  const text = Object.hasOwn(TEXTS.ended, reason) ? TEXTS.ended[reason] : null;
  return text ? text(call, byMe) : "The call ended.";
}
