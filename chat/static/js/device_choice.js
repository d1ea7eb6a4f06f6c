// Camera, microphone and speaker: the three selects, the choice remembered in this browser, and a
// device that goes away (unplugged) mid-call. What a choice does to the call is main.js's.
const $ = (id) => document.getElementById(id);

// Per kind of device: its select, the key of the choice in localStorage, and its name in words.
export const KINDS = Object.freeze({
  videoinput: { select: $("camera-select"), key: "camera", name: "camera" },
  audioinput: { select: $("microphone-select"), key: "microphone", name: "microphone" },
  audiooutput: { select: $("speaker-select"), key: "speaker", name: "speaker" },
});

/** The device chosen in this browser for `kind`, if any. */
export function remembered(kind) {
  return localStorage.getItem(KINDS[kind].key) || null;
}

/**
 * Wire the selects. choose(kind, deviceId) switches to a device (the person's choice, or a
 * fallback); current(kind) says which device is in use now (a deviceId, or null).
 */
export function createDeviceChoice({ choose, current, say }) {
  const speakers = "setSinkId" in HTMLMediaElement.prototype;
  KINDS.audiooutput.select.closest(".device-row").hidden = !speakers;

  for (const [kind, { select, key }] of Object.entries(KINDS)) {
    select.addEventListener("change", () => {
      localStorage.setItem(key, select.value);
      choose(kind, select.value);
    });
  }

  async function refresh() {
    let devices;
    try {
      devices = await navigator.mediaDevices.enumerateDevices();
    } catch {
      return;
    }
    for (const [kind, { select, name }] of Object.entries(KINDS)) {
      const found = devices.filter((d) => d.kind === kind && d.deviceId);
      select.replaceChildren(
        ...found.map((device, index) => new Option(device.label || `${capital(name)} ${index + 1}`, device.deviceId)),
      );
      select.disabled = found.length === 0;
      const inUse = current(kind);
      if (inUse && found.some((d) => d.deviceId === inUse)) select.value = inUse;
      else if (inUse && found.length && kind !== "audiooutput") {
        // What was in use is gone (unplugged): take another, and say so.
        const other = found[0];
        say(`The ${name} was disconnected; now using ${other.label || "another one"}.`);
        choose(kind, other.deviceId);
      }
    }
  }

  navigator.mediaDevices?.addEventListener?.("devicechange", refresh);
  return { refresh };
}

function capital(word) {
  return word[0].toUpperCase() + word.slice(1);
}
