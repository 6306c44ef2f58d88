// admin.js: the console's progressive enhancement. Every console form works
// without it; with it, the key import uploads with a progress bar.
(function () {
  "use strict";

  function text(el, s) { if (el) { el.textContent = s; } }

  // reasonText translates a rejection reason from the page's hidden list.
  function reasonText(code) {
    var items = document.querySelectorAll("#import-reasons li");
    for (var i = 0; i < items.length; i++) {
      if (items[i].getAttribute("data-code") === code) { return items[i].textContent; }
    }
    return code;
  }

  function showResult(status, form, res) {
    var parts = [
      status.getAttribute("data-done"),
      status.getAttribute("data-imported") + " " + res.imported,
      status.getAttribute("data-duplicates") + " " + res.duplicates,
      status.getAttribute("data-rejected") + " " + res.rejected
    ];
    if (res.rejections && res.rejections.length) {
      var lines = [];
      for (var i = 0; i < res.rejections.length && i < 20; i++) {
        var rj = res.rejections[i];
        var reason = reasonText(rj.reason);
        var line = (status.getAttribute("data-line") || "%d").replace("%d", String(rj.line));
        lines.push(line + ": " + reason);
      }
      parts.push("(" + lines.join(", ") + (res.rejections.length > 20 ? ", …" : "") + ")");
    }
    text(status, parts.join(" · "));
    form.reset();
  }

  function setupImport(form) {
    var api = form.getAttribute("data-api");
    var csrf = form.getAttribute("data-csrf");
    var bar = document.getElementById("import-progress");
    var status = document.getElementById("import-status");
    if (!api || !csrf || !window.FormData || !window.XMLHttpRequest) { return; }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var button = form.querySelector("button[type=submit]");
      var xhr = new XMLHttpRequest();
      xhr.open("POST", api);
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      if (bar) { bar.hidden = false; bar.value = 0; }
      text(status, status.getAttribute("data-uploading"));
      if (button) { button.disabled = true; }
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable && bar) { bar.value = Math.round(e.loaded / e.total * 100); }
      });
      xhr.upload.addEventListener("load", function () {
        if (bar) { bar.value = 100; }
        text(status, status.getAttribute("data-processing"));
      });
      xhr.addEventListener("load", function () {
        if (button) { button.disabled = false; }
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        if (xhr.status === 200 && body) {
          showResult(status, form, body);
        } else {
          var msg = body && body.error ? body.error.message : String(xhr.status);
          text(status, status.getAttribute("data-failed") + " " + msg);
        }
      });
      xhr.addEventListener("error", function () {
        if (button) { button.disabled = false; }
        text(status, status.getAttribute("data-failed"));
      });
      xhr.send(new FormData(form));
    });
  }

  function init() {
    var form = document.getElementById("import-form");
    if (form) { setupImport(form); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
