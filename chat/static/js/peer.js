// One RTCPeerConnection for one call, negotiated with the "perfect
// negotiation" pattern of the WebRTC samples, so that glare (both sides
// offering at once) and later renegotiation (a track added mid-call) are safe.
//
// The callee is the polite side: when offers collide it rolls its own back
// and takes the caller's. The caller is impolite and ignores the colliding
// offer. Both sides must agree on this, which the roles guarantee.

// The data channel both sides open for chat and for telling each other their state
// (muted, camera off, sharing the screen). Negotiated (the same id on both sides, made
// before the first offer), so neither waits for the other's `datachannel` event.
const CHANNEL = { label: "app", id: 0 };
// What one message on it may be at most, in UTF-16 code units (a chat line is far less).
export const MAX_MESSAGE_CHARS = 16000;

// How long ICE may take to find a path before the call is given up.
const CONNECT_TIMEOUT_MS = 30000;
// With relay only, how long to wait for the first relay candidate. A TURN
// server answers in well under a second; Chromium itself gives up on an
// unreachable one only after about 40 s.
const RELAY_TIMEOUT_MS = 10000;

export class PeerSession {
  /**
   * polite: boolean; stream: local MediaStream (may have no tracks);
   * rtcConfig: RTCConfiguration (ICE servers, transport policy); send(message): deliver a {description} or
   * {candidate} to the other side; onRemoteStream(stream);
   * onConnectionState(state); onMessage(object): a message of the other side's page,
   * parsed, over the data channel; onChannelOpen(); onChannelClose(): the other side closed
   * the channel (its page went: closed or reloaded); onChannel(channel): another data channel the
   * other side opened (a file); onClose(error): called once, when closed.
   */
  constructor({
    polite,
    stream,
    rtcConfig,
    send,
    onRemoteStream,
    onConnectionState,
    onMessage = () => {},
    onChannelOpen = () => {},
    onChannelClose = () => {},
    onChannel = (channel) => channel.close(),
    onClose,
  }) {
    this.polite = polite;
    this.send = send;
    this.onClose = onClose;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.settingRemoteAnswer = false;
    this.closed = false;
    this.remoteStream = new MediaStream();

    const pc = (this.pc = new RTCPeerConnection(rtcConfig));
    for (const track of stream.getTracks()) pc.addTrack(track, stream);
    // Receive what we do not send, so that a side without a camera (or
    // without any device) still gets the other's video and sound.
    for (const kind of ["audio", "video"]) {
      if (!stream.getTracks().some((t) => t.kind === kind)) {
        pc.addTransceiver(kind, { direction: "recvonly" });
      }
    }

    const channel = (this.channel = pc.createDataChannel(CHANNEL.label, { negotiated: true, id: CHANNEL.id }));
    channel.onopen = () => onChannelOpen();
    // Closed by the other side: its RTCPeerConnection closed, which a closed tab does at once
    // (long before ICE would notice). Not called when this side closes (close() unsets it).
    channel.onclose = () => !this.closed && onChannelClose();
    channel.onmessage = ({ data }) => {
      // The other side is another browser, not to be trusted: only objects of known shape go on.
      if (typeof data !== "string" || data.length > MAX_MESSAGE_CHARS) return;
      let message;
      try {
        message = JSON.parse(data);
      } catch {
        return;
      }
      if (message && typeof message === "object" && typeof message.type === "string") onMessage(message);
    };

    pc.ondatachannel = ({ channel }) => onChannel(channel);

    this.candidates = 0;
    this.connectTimer = setTimeout(
      () => this.close(new Error("No connection could be set up between you in time.")),
      CONNECT_TIMEOUT_MS,
    );
    const relayOnly = rtcConfig.iceTransportPolicy === "relay";
    const unreachable = () =>
      this.close(
        new Error(
          relayOnly
            ? "The relay (TURN) server could not be reached."
            : "No network address could be found for the call.",
        ),
      );
    pc.onicegatheringstatechange = () => {
      // Nothing gathered means nothing can ever connect: say so at once.
      if (pc.iceGatheringState === "complete" && this.candidates === 0) unreachable();
      if (pc.iceGatheringState === "gathering" && relayOnly && !this.relayTimer) {
        this.relayTimer = setTimeout(() => this.candidates === 0 && unreachable(), RELAY_TIMEOUT_MS);
      }
    };

    pc.ontrack = ({ track }) => {
      this.remoteStream.addTrack(track);
      onRemoteStream(this.remoteStream);
    };
    pc.onicecandidate = ({ candidate }) => {
      if (!candidate) return;
      this.candidates += 1;
      this.send({ candidate: candidate.toJSON() });
    };
    pc.onnegotiationneeded = async () => {
      // The polite side waits for the first offer instead of racing it. Both
      // sides start at once (call accepted, call moved), and when Chromium
      // rolls back a first offer it has only just made, ICE gathering can
      // stall: no candidates, no media. Renegotiation later is unaffected;
      // the browser fires this event again once the first exchange is done.
      if (this.polite && !pc.remoteDescription) return;
      try {
        this.makingOffer = true;
        await pc.setLocalDescription();
        this.send({ description: pc.localDescription.toJSON() });
      } catch (err) {
        this.close(err);
      } finally {
        this.makingOffer = false;
      }
    };
    pc.onconnectionstatechange = () => {
      onConnectionState(pc.connectionState);
      if (pc.connectionState === "connected") clearTimeout(this.connectTimer);
      if (pc.connectionState === "failed") {
        this.close(new Error("The media connection to the other side failed."));
      }
    };
  }

  /** Apply a relayed {description} or {candidate} from the other side. */
  async handleSignal({ description, candidate }) {
    if (this.closed) return;
    const pc = this.pc;
    try {
      if (description) {
        // An offer that arrives while the answer before it is still being
        // applied is no collision: the other side made it after that answer.
        // (As in the perfect negotiation example of the WebRTC spec; without
        // it the impolite side drops the offer and the polite side's new
        // tracks are never sent.)
        const readyForOffer =
          !this.makingOffer && (pc.signalingState === "stable" || this.settingRemoteAnswer);
        const collision = description.type === "offer" && !readyForOffer;
        this.ignoreOffer = !this.polite && collision;
        if (this.ignoreOffer) return;
        this.settingRemoteAnswer = description.type === "answer";
        await pc.setRemoteDescription(description);
        this.settingRemoteAnswer = false;
        if (description.type === "offer") {
          await pc.setLocalDescription();
          this.send({ description: pc.localDescription.toJSON() });
        }
      } else if (candidate) {
        try {
          await pc.addIceCandidate(candidate);
        } catch (err) {
          // Candidates of an offer we ignored fail to apply; that is expected.
          if (!this.ignoreOffer) throw err;
        }
      }
    } catch (err) {
      this.close(err);
    }
  }

  /** Send `message` (an object with a `type`) to the other side's page; false if the channel is not open. */
  sendMessage(message) {
    if (this.closed || this.channel.readyState !== "open") return false;
    const text = JSON.stringify(message);
    if (text.length > MAX_MESSAGE_CHARS) return false;
    this.channel.send(text);
    return true;
  }

  /** Open another data channel (one per file), which the other side gets in its onChannel. */
  openChannel(label) {
    return this.pc.createDataChannel(label, { ordered: true });
  }

  /**
   * Send `track` instead of the `kind` ("audio" or "video") track now sent: the same sender,
   * no renegotiation (replaceTrack). With no sender of that kind yet (no camera, say), add it
   * (renegotiates).
   */
  async replaceTrack(kind, track, stream) {
    if (this.closed) return;
    this.senders ??= {};
    const sender = this.senders[kind] ?? this.pc.getSenders().find((s) => s.track?.kind === kind);
    if (sender) {
      this.senders[kind] = sender;
      try {
        await sender.replaceTrack(track);
      } catch (err) {
        if (!this.closed) throw err; // closed meanwhile (the call ended): nothing left to send to
      }
    } else if (track) {
      this.senders[kind] = this.pc.addTrack(track, stream);
    }
  }

  /** Start sending the tracks of `stream` that are not sent yet (renegotiates). */
  addStream(stream) {
    if (this.closed) return;
    const sending = this.pc.getSenders().map((s) => s.track);
    for (const track of stream.getTracks()) {
      if (!sending.includes(track)) this.pc.addTrack(track, stream);
    }
  }

  /** Resolve to the connection's statistics (an RTCStatsReport; chat/static/js/quality.js), or null. */
  async stats() {
    return this.closed ? null : this.pc.getStats();
  }

  /** Close the connection once; `error` says why, if it was a failure. */
  close(error) {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.connectTimer);
    clearTimeout(this.relayTimer);
    const pc = this.pc;
    pc.ontrack = pc.onicecandidate = pc.onnegotiationneeded = pc.onconnectionstatechange = null;
    pc.onicegatheringstatechange = pc.ondatachannel = null;
    this.channel.onopen = this.channel.onmessage = this.channel.onclose = null;
    pc.close();
    for (const track of this.remoteStream.getTracks()) track.stop();
    this.onClose(error);
  }
}
