// "One moment": shown by the service worker while the appliance restarts.  Every two seconds
// it asks whether the appliance answers again, then loads the kiosk afresh.
setInterval(async () => {
  try {
    const answer = await fetch("/healthz", { cache: "no-store" });
    if (answer.ok) location.reload();
  } catch {
    // still restarting
  }
}, 2000);
