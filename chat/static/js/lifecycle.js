// The call's lifecycle as data: which event takes a call from one phase to
// the next. This module only says whether an event may happen now; main.js
// does what a phase means (the screen, the ring, the peer connection).
//
// Phases: idle (no call), calling (my call rings at the peer's), ringing (the
// peer's call rings here), accepting and moving (waiting for the server's
// answer to accept or move), active (the call is in this page) and elsewhere
// (the call goes on in another page of mine).
//
// Events, each named as main.js applies it:
// - what I do, offered only in the phases whose buttons show: place (the
//   server took my call), accept, cancel, decline, hangup (also "End call"
//   of a call elsewhere), move_here;
// - what the server says: ring; call_accepted (while calling: the peer
//   accepted; while ringing: I accepted in another page); call_moved_by_me,
//   call_moved_by_peer; call_ended; signed_out; and in hello, the call this
//   page finds on starting (hello_calling, hello_ringing, hello_active, or
//   hello_resume when this tab held it before a reload) or hello_without_call
//   (the call this page holds ended while it was away);
// - how a request turned out here: accepted and moved (the answers to accept
//   and move), ack_refused (either refused, or not answered in time),
//   peer_failed (no ICE servers, or no media connection).

// Whatever the call's phase, these end it.
const ENDINGS = { call_ended: "idle", hello_without_call: "idle", signed_out: "idle" };
// A move is taken in every phase with a call but moving, whose page asked for
// it and waits for its answer. Outside accepting, active and elsewhere only a
// page that missed call_accepted (a reconnect) receives one.
const MOVED = { call_moved_by_me: "elsewhere", call_moved_by_peer: "active" };
// The answer to accept, when a call_moved overtook it.
const LATE_ANSWER = { accepted: "active", ack_refused: "idle" };

function freeze(table) {
  for (const row of Object.values(table)) Object.freeze(row);
  return Object.freeze(table);
}

/** phase → event → next phase. An event missing from a phase's row is refused there. */
export const TRANSITIONS = freeze({
  idle: {
    place: "calling",
    ring: "ringing",
    hello_calling: "calling",
    hello_ringing: "ringing",
    hello_active: "elsewhere",
    hello_resume: "moving",
    signed_out: "idle",
  },
  calling: { call_accepted: "active", cancel: "idle", ...MOVED, ...ENDINGS },
  ringing: { accept: "accepting", decline: "idle", call_accepted: "elsewhere", ...MOVED, ...ENDINGS },
  accepting: { accepted: "active", ack_refused: "idle", hangup: "idle", ...MOVED, ...ENDINGS },
  active: { hangup: "idle", peer_failed: "idle", ...MOVED, ...LATE_ANSWER, ...ENDINGS },
  // peer_failed here and elsewhere: the ICE servers of an earlier connection
  // of this page failed to come after the call had moved away.
  moving: { moved: "active", ack_refused: "idle", hangup: "idle", peer_failed: "idle", ...ENDINGS },
  elsewhere: { move_here: "moving", hangup: "idle", peer_failed: "idle", ...MOVED, ...LATE_ANSWER, ...ENDINGS },
});

export const PHASES = Object.freeze(Object.keys(TRANSITIONS));
export const EVENTS = Object.freeze([...new Set(Object.values(TRANSITIONS).flatMap(Object.keys))].sort());

/** The phase that `event` leads to from `phase`, or null if it is not allowed there. */
export function next(phase, event) {
  const row = TRANSITIONS[phase];
  return row && Object.hasOwn(row, event) ? row[event] : null;
}

/** One call's phase, changed only by events the table allows. */
export class CallLifecycle {
  /** onChange(phase, previous, event) runs after every transition, also one to the same phase. */
  constructor(onChange = () => {}) {
    this.phase = "idle";
    this.onChange = onChange;
  }

  /** Whether `event` is allowed now; a refusal is logged, as apply() logs it. */
  can(event) {
    if (next(this.phase, event) !== null) return true;
    console.debug(`call lifecycle: ${event} is ignored while ${this.phase}`);
    return false;
  }

  /** Take `event`: return the new phase, or null, changing nothing, if it is not allowed now. */
  apply(event) {
    if (!this.can(event)) return null;
    const previous = this.phase;
    this.phase = next(previous, event);
    this.onChange(this.phase, previous, event);
    return this.phase;
  }
}
