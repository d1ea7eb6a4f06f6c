// Camera and microphone: ask for them, and explain failures in plain words.

const CONSTRAINTS = {
  full: { audio: true, video: { width: { ideal: 1280 }, height: { ideal: 720 } } },
  audio: { audio: true, video: false },
};

/** Resolve to a MediaStream for `mode` ("full", "audio" or "none"). */
export async function getLocalMedia(mode) {
  if (mode === "none") return new MediaStream();
  if (!navigator.mediaDevices?.getUserMedia) {
    const err = new Error("This browser cannot use a camera here (an https address is needed).");
    err.name = "NotSupportedError";
    throw err;
  }
  return navigator.mediaDevices.getUserMedia(CONSTRAINTS[mode]);
}

/** Say in a sentence why getUserMedia failed. */
export function describeMediaError(err) {
  switch (err?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Camera and microphone are blocked for this site.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No camera or microphone was found.";
    case "NotReadableError":
    case "AbortError":
      return "The camera or microphone is in use by another program.";
    default:
      return err?.message || "The camera and microphone could not be started.";
  }
}
