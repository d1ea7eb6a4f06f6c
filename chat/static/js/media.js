// Camera and microphone: ask for them, and explain failures in plain words.

const VIDEO = { width: { ideal: 1280 }, height: { ideal: 720 } };

/**
 * Resolve to a MediaStream for `mode` ("full", "audio" or "none"), from the devices in `prefer`
 * ({camera, microphone}: deviceIds) when they are there, else from the browser's defaults.
 */
export async function getLocalMedia(mode, prefer = {}) {
  if (mode === "none") return new MediaStream();
  if (!navigator.mediaDevices?.getUserMedia) {
    const err = new Error("This browser cannot use a camera here (an https address is needed).");
    err.name = "NotSupportedError";
    throw err;
  }
  const constraints = (prefer) => ({
    audio: prefer.microphone ? { deviceId: { exact: prefer.microphone } } : true,
    video: mode === "full" && (prefer.camera ? { ...VIDEO, deviceId: { exact: prefer.camera } } : VIDEO),
  });
  try {
    // `exact`: Chromium takes its default over an `ideal` device.
    return await navigator.mediaDevices.getUserMedia(constraints(prefer));
  } catch (err) {
    // A remembered device that is gone gives way to the defaults.
    if (!(prefer.microphone || prefer.camera) || !["OverconstrainedError", "NotFoundError"].includes(err.name)) throw err;
    return navigator.mediaDevices.getUserMedia(constraints({}));
  }
}

/** Resolve to one track of `kind` ("audioinput" or "videoinput") from the device `deviceId`. */
export async function getDeviceTrack(kind, deviceId) {
  const constraints =
    kind === "audioinput" ? { audio: { deviceId: { exact: deviceId } } } : { video: { ...VIDEO, deviceId: { exact: deviceId } } };
  const stream = await navigator.mediaDevices.getUserMedia(constraints);
  return kind === "audioinput" ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
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
