// An event's JSON, as stored, in a dialog (the page's address names it: ...&event=<seq>).
import { get } from "./api.js";

const dialog = () => document.getElementById("json-dialog");
let onClose = () => {};

/** Opens the event `seq`; `closed` is called when the person closes it. */
export async function openJson(seq, closed = () => {}) {
  const d = dialog();
  onClose = closed;
  document.getElementById("json-title").textContent = `Event #${seq}`;
  const body = document.getElementById("json-body");
  body.textContent = "loading…";
  if (!d.open) d.showModal();
  try {
    const { event } = await get(`/api/events/${encodeURIComponent(seq)}`);
    body.textContent = JSON.stringify(event, null, 2);
  } catch (error) {
    body.textContent = `cannot read event ${seq}: ${error.message}`;
  }
}

/** Closes the dialog if it is open. */
export function closeJson() {
  const d = dialog();
  if (d?.open) d.close();
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("json-close").addEventListener("click", () => closeJson());
  dialog().addEventListener("close", () => {
    const fn = onClose;
    onClose = () => {};
    fn();
  });
});
