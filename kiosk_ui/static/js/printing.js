// The print job's progress, live from the appliance's event stream (no polling): queued,
// printing, done, or failed with the printer's reason.  When the badge is out, the screen turns
// into "done" and goes back to Welcome after 10 seconds for the next attendee.
const FINAL_FAILURES = new Set(["failed", "uncertain", "cancelled"]);
const BACK_AFTER_MS = 10_000;

let source = null;
let backTimer = null;

export function stopFollowing() {
  if (source) source.close();
  source = null;
  clearTimeout(backTimer);
  backTimer = null;
}

function showDone(screen) {
  if (source) source.close();
  source = null;
  screen.dataset.screen = "done";
  screen.querySelector("[data-progress-panel]").hidden = true;
  screen.querySelector("[data-done-panel]").hidden = false;
  screen.setAttribute("aria-labelledby", "done-title");
  screen.querySelector("#done-title")?.focus();
  if (!backTimer) backTimer = setTimeout(() => location.replace("/kiosk"), BACK_AFTER_MS);
}

function show(screen, job) {
  if (!job || !job.status) return;
  screen.dataset.status = job.status;
  const label = screen.dataset[`label${job.status[0].toUpperCase()}${job.status.slice(1)}`];
  const progress = screen.querySelector("[data-progress]");
  if (job.status === "done") {
    showDone(screen);
    return;
  }
  if (progress && label) progress.textContent = job.detail && FINAL_FAILURES.has(job.status) ? `${label} (${job.detail})` : label;
  if (FINAL_FAILURES.has(job.status)) {
    screen.querySelector("[data-failed-panel]").hidden = false;
    screen.querySelector("[data-spinner]")?.setAttribute("hidden", "");
    if (source) source.close();
    source = null;
  }
}

export function followJob(screen) {
  stopFollowing();
  const id = screen.dataset.job;
  if (screen.dataset.screen === "done" || screen.dataset.status === "done") {
    showDone(screen);
    return;
  }
  if (!id || FINAL_FAILURES.has(screen.dataset.status)) return;
  source = new EventSource("/api/v1/live?topics=print");
  source.addEventListener("print", (event) => {
    try {
      const job = JSON.parse(event.data);
      if (job.id === id) show(screen, job);
    } catch {
      // not a job: ignore
    }
  });
  // The job may have moved before the stream opened: read where it is now, once per (re)connect.
  source.addEventListener("open", async () => {
    try {
      const answer = await fetch(`/kiosk/job/${encodeURIComponent(id)}`, { cache: "no-store" });
      if (answer.ok) show(screen, await answer.json());
    } catch {
      // the stream's next event will tell
    }
  });
}
