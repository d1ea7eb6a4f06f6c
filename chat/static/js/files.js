// Files sent in a call, peer to peer: each on a data channel of its own ("file-<id>"), announced
// and cancelled over the app channel (peer.js), with flow control and a progress bar on both sides.
// The receiving side offers a link named after the file that saves it as it came.

export const MAX_FILE_BYTES = 100 * 1024 * 1024; // stated in the page
const CHUNK_BYTES = 16 * 1024; // what every browser's SCTP carries in one message
const HIGH_WATER = 4 * 1024 * 1024; // stop reading the file while this much waits to be sent...
const LOW_WATER = 1024 * 1024; // ...and go on once the buffer is down to this (bufferedamountlow)
const MAX_NAME = 255;

const $ = (id) => document.getElementById(id);

/**
 * sendControl(message) sends on the app channel; openChannel(label) opens a data channel;
 * say(text) puts a line in the page's status.
 */
export class FileTransfers {
  constructor({ sendControl, openChannel, say }) {
    this.sendControl = sendControl;
    this.openChannel = openChannel;
    this.say = say;
    this.transfers = new Map(); // id -> {item, channel, ...}
    this.list = $("transfers");
    this.panel = $("files");
  }

  /** Show the panel in a call; after it, only while it lists files. */
  show(inCall) {
    this.panel.hidden = !inCall && this.list.children.length === 0;
  }

  /** Send `file` to the other side. */
  send(file) {
    if (file.size > MAX_FILE_BYTES) return this.say(`${file.name} is too large: files up to 100 MB can be sent.`);
    const id = crypto.randomUUID();
    const name = file.name.slice(0, MAX_NAME);
    if (!this.sendControl({ type: "file", id, name, size: file.size })) return this.say("The file could not be sent: the call is not connected.");
    const transfer = this.add(id, name, file.size, "Sending");
    const channel = (transfer.channel = this.openChannel(`file-${id}`));
    channel.binaryType = "arraybuffer";
    channel.bufferedAmountLowThreshold = LOW_WATER;
    channel.onopen = () => this.pump(transfer, file);
    channel.onclose = () => transfer.done || this.finish(transfer, "Stopped: the connection closed.");
  }

  async pump(transfer, file) {
    const { channel } = transfer;
    let sent = 0;
    try {
      while (sent < file.size) {
        if (transfer.done) return;
        if (channel.bufferedAmount > HIGH_WATER) {
          await new Promise((resolve) => channel.addEventListener("bufferedamountlow", resolve, { once: true }));
          continue;
        }
        const chunk = await file.slice(sent, sent + CHUNK_BYTES).arrayBuffer();
        if (transfer.done || channel.readyState !== "open") return;
        channel.send(chunk);
        sent += chunk.byteLength;
        this.progress(transfer, sent);
      }
    } catch (err) {
      this.cancel(transfer.id, `Stopped: ${err.message}`);
      return;
    }
    transfer.done = true;
    this.finish(transfer, "Sent.");
  }

  /** The other side's page said something of a file (a message on the app channel). */
  onControl(message) {
    const { id } = message;
    if (typeof id !== "string" || id.length > 64) return;
    if (message.type === "file_cancel") {
      const transfer = this.transfers.get(id);
      if (transfer && !transfer.done) this.stop(transfer, "Cancelled by the other side.");
      return;
    }
    // type "file": one is coming. Refuse what does not fit, in words.
    const size = message.size;
    const name = typeof message.name === "string" ? message.name.replace(/[\\/]/g, "_").slice(0, MAX_NAME) : "";
    if (!name || !Number.isSafeInteger(size) || size < 0 || size > MAX_FILE_BYTES || this.transfers.has(id)) {
      this.sendControl({ type: "file_cancel", id });
      return;
    }
    const transfer = this.add(id, name, size, "Receiving");
    transfer.chunks = [];
    transfer.received = 0;
  }

  /** A data channel the other side opened: the bytes of a file announced before. */
  onChannel(channel) {
    const id = channel.label.startsWith("file-") ? channel.label.slice(5) : null;
    const transfer = id && this.transfers.get(id);
    if (!transfer || !transfer.chunks || transfer.channel) return channel.close();
    transfer.channel = channel;
    channel.binaryType = "arraybuffer";
    channel.onmessage = ({ data }) => {
      if (transfer.done || !(data instanceof ArrayBuffer)) return;
      transfer.received += data.byteLength;
      if (transfer.received > transfer.size) return this.cancel(id, "Stopped: more came than was announced.");
      transfer.chunks.push(data);
      this.progress(transfer, transfer.received);
      if (transfer.received === transfer.size) this.received(transfer);
    };
    channel.onclose = () => transfer.done || this.finish(transfer, "Stopped: the connection closed.");
    if (transfer.size === 0) this.received(transfer);
  }

  received(transfer) {
    transfer.done = true;
    const url = URL.createObjectURL(new Blob(transfer.chunks));
    transfer.chunks = null;
    const link = document.createElement("a");
    link.href = url;
    link.download = transfer.name;
    link.textContent = `Save ${transfer.name}`;
    transfer.item.append(" ", link);
    transfer.url = url;
    this.finish(transfer, "Received.");
    transfer.channel?.close();
  }

  /** Cancel a transfer from this side: both sides stop. */
  cancel(id, text = "Cancelled.") {
    const transfer = this.transfers.get(id);
    if (!transfer || transfer.done) return;
    this.sendControl({ type: "file_cancel", id });
    this.stop(transfer, text);
  }

  stop(transfer, text) {
    transfer.done = true;
    transfer.chunks = null;
    transfer.channel?.close();
    this.finish(transfer, text);
  }

  /** The connection is gone: stop what is under way, keep the list (received files can still be saved). */
  stopAll() {
    for (const transfer of this.transfers.values()) {
      if (!transfer.done) this.stop(transfer, "Stopped: the call ended.");
    }
  }

  /** A new call: forget the list, and free the received files. */
  clear() {
    for (const transfer of this.transfers.values()) {
      transfer.done = true;
      transfer.channel?.close();
      if (transfer.url) URL.revokeObjectURL(transfer.url);
    }
    this.transfers.clear();
    this.list.replaceChildren();
    this.show(false);
  }

  add(id, name, size, verb) {
    const item = document.createElement("li");
    item.className = "mb-2";
    const title = document.createElement("span");
    title.textContent = `${verb} ${name} (${describeSize(size)}) `;
    const bar = document.createElement("progress");
    bar.max = Math.max(size, 1);
    bar.value = 0;
    bar.setAttribute("aria-label", `${verb} ${name}`);
    const state = document.createElement("span");
    state.className = "ms-2";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "btn btn-sm btn-outline-danger ms-2";
    cancel.textContent = "Cancel";
    cancel.setAttribute("aria-label", `Cancel ${name}`);
    cancel.addEventListener("click", () => this.cancel(id));
    item.append(title, bar, state, cancel);
    this.list.append(item);
    const transfer = { id, name, size, item, bar, state, cancelButton: cancel, done: false };
    this.transfers.set(id, transfer);
    return transfer;
  }

  progress(transfer, bytes) {
    transfer.bar.value = bytes;
    transfer.state.textContent = `${Math.floor((100 * bytes) / Math.max(transfer.size, 1))} %`;
  }

  finish(transfer, text) {
    transfer.state.textContent = text;
    transfer.cancelButton.remove();
  }
}

function describeSize(bytes) {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} kB`;
  return `${bytes} bytes`;
}
