// The console's one script of its own (the page's Content-Security-Policy allows no inline script).
// htmx requests that change something carry the page's CSRF token in a header, read from
// <meta name="csrf-token">; plain forms carry it in their hidden "_csrf" field.
(function () {
  "use strict";
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && event.detail.verb !== "get") {
      event.detail.headers["X-CSRF-Token"] = meta.content;
    }
  });
})();
