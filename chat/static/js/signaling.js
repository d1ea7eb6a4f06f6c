// Signaling transport: a thin wrapper over the Socket.IO client.
// It knows nothing of WebRTC; it sends requests, reports server events and
// says how the connection is doing. Socket.IO reconnects by itself.
import { io } from "../vendor/socket.io/socket.io.esm.min.js";

const REQUEST_TIMEOUT_MS = 10000;

/**
 * Connect to the server.
 * onEvent(name, payload) receives every server event;
 * onStatus(status, detail) receives "connected", "reconnecting",
 * "refused" (with the server's {error, message}) or "closed".
 */
export function connectSignaling({ onEvent, onStatus }) {
  const socket = io({ transports: ["websocket"], reconnectionDelayMax: 5000 });

  // A refusal with `unavailable` (the server's shared state is down for a moment) is tried
  // again after these delays, as Socket.IO itself retries when the network fails.
  const UNAVAILABLE_RETRY_MS = [1000, 2000, 5000, 10000];
  let unavailableTries = 0;

  socket.on("connect", () => {
    unavailableTries = 0;
    onStatus("connected");
  });
  socket.on("disconnect", (reason) => {
    onStatus(socket.active ? "reconnecting" : "closed", { reason });
  });
  socket.on("connect_error", (err) => {
    // Refused by the server (not logged in, name taken): no retry follows, but for `unavailable`.
    // Without the server's {error, message}, the client's text has no code.
    if (socket.active) onStatus("reconnecting", { reason: err.message });
    else if (err.data?.error === "unavailable") {
      const delay = UNAVAILABLE_RETRY_MS[Math.min(unavailableTries++, UNAVAILABLE_RETRY_MS.length - 1)];
      setTimeout(() => socket.connect(), delay);
      onStatus("reconnecting", { reason: "unavailable" });
    } else onStatus("refused", err.data || { message: err.message });
  });
  socket.onAny((event, payload) => onEvent(event, payload));

  return {
    /** Send an event; resolve to the server's {ok, ...} acknowledgement. */
    async request(event, payload) {
      try {
        return await socket.timeout(REQUEST_TIMEOUT_MS).emitWithAck(event, payload);
      } catch {
        return { ok: false, error: "timeout", message: "The server did not answer in time." };
      }
    },
    close() {
      socket.disconnect();
    },
  };
}
