// veil.js: progressive enhancement only. Every page works without it.
// Copy buttons: <button type="button" class="copy" data-copy="ELEMENT_ID"
// data-done="Copied" hidden>Copy</button> copies the element's data-value
// (or its text) and says so for a moment.
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain-HTTP fallbacks (e.g. an onion service): a temporary textarea.
    return new Promise(function (resolve, reject) {
      var ta = document.createElement("textarea");
      ta.value = text;
      ta.setAttribute("readonly", "");
      ta.className = "offscreen";
      document.body.appendChild(ta);
      ta.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(ta);
      if (ok) { resolve(); } else { reject(new Error("copy failed")); }
    });
  }

  function setup(btn) {
    var target = document.getElementById(btn.getAttribute("data-copy"));
    if (!target) { return; }
    var label = btn.textContent;
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var text = target.getAttribute("data-value") || target.textContent.trim();
      copyText(text).then(function () {
        btn.textContent = btn.getAttribute("data-done") || label;
        btn.classList.add("done");
        window.setTimeout(function () {
          btn.textContent = label;
          btn.classList.remove("done");
        }, 2000);
      }, function () {
        // Select the text so the buyer can copy it by hand.
        var range = document.createRange();
        range.selectNodeContents(target);
        var sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
      });
    });
  }

  function init() {
    var buttons = document.querySelectorAll("button[data-copy]");
    for (var i = 0; i < buttons.length; i++) { setup(buttons[i]); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
