// wallet.js: the opt-in token wallet. OFF unless the buyer turns it on in
// the settings on the lookup page (which warns that anyone using this
// browser can then see the tokens). When on, it keeps order tokens in this
// browser's localStorage only — never sent anywhere by itself, never a
// cookie — and:
//   - the token page saves the token it shows;
//   - the lookup page lists saved tokens as buttons that fill the form;
//   - the product page offers to fill the proofs field with them.
// Turning it off deletes the saved tokens. Every page works without it.
(function () {
  "use strict";

  var ON = "veil.wallet.on";
  var TOKENS = "veil.wallet.tokens";
  var MAX = 50; // the server takes at most 20 proofs; keep a few more

  function storage() {
    try {
      var s = window.localStorage;
      var probe = "veil.wallet.probe";
      s.setItem(probe, "1");
      s.removeItem(probe);
      return s;
    } catch (e) {
      return null; // private mode, storage off: the wallet stays hidden
    }
  }

  var store = storage();

  function isOn() { return store && store.getItem(ON) === "1"; }

  function load() {
    if (!isOn()) { return []; }
    try {
      var list = JSON.parse(store.getItem(TOKENS) || "[]");
      return Array.isArray(list) ? list.filter(function (x) { return x && typeof x.token === "string"; }) : [];
    } catch (e) {
      return [];
    }
  }

  function save(list) { store.setItem(TOKENS, JSON.stringify(list.slice(0, MAX))); }

  function norm(tok) { return tok.toUpperCase().replace(/[^0-9A-Z]/g, ""); }

  function add(token, ref) {
    var list = load();
    var n = norm(token);
    for (var i = 0; i < list.length; i++) {
      if (norm(list[i].token) === n) { return; }
    }
    // Only the day is kept: the wallet needs no finer time.
    list.unshift({ token: token, ref: ref || "", saved: new Date().toISOString().slice(0, 10) });
    save(list);
  }

  function remove(token) {
    var n = norm(token);
    save(load().filter(function (x) { return norm(x.token) !== n; }));
  }

  // Token page: save the token shown.
  function tokenPage() {
    var el = document.getElementById("order-token");
    if (!el || !isOn()) { return; }
    var ref = "";
    var refCell = document.querySelector("td.mono");
    if (refCell) { ref = refCell.textContent.trim(); }
    add(el.getAttribute("data-value"), ref);
    var note = document.getElementById("wallet-saved");
    if (note) { note.hidden = false; }
  }

  // Lookup page: the settings toggle and the saved tokens.
  function lookupPage() {
    var box = document.getElementById("wallet");
    if (!box) { return; }
    var toggle = document.getElementById("wallet-on");
    var list = document.getElementById("wallet-list");
    var empty = document.getElementById("wallet-empty");
    var input = document.getElementById("token");

    function render() {
      while (list.firstChild) { list.removeChild(list.firstChild); }
      var on = isOn();
      toggle.checked = on;
      var tokens = load();
      list.hidden = !on || tokens.length === 0;
      empty.hidden = !on || tokens.length > 0;
      tokens.forEach(function (x) {
        var li = document.createElement("li");
        var use = document.createElement("button");
        use.type = "button";
        use.className = "btn secondary";
        use.textContent = list.getAttribute("data-t-use") + (x.ref ? " " + x.ref : "");
        use.addEventListener("click", function () {
          input.value = x.token;
          input.focus();
        });
        var code = document.createElement("code");
        code.textContent = x.token;
        var forget = document.createElement("button");
        forget.type = "button";
        forget.className = "btn secondary";
        forget.textContent = list.getAttribute("data-t-forget");
        forget.addEventListener("click", function () {
          remove(x.token);
          render();
        });
        li.appendChild(use);
        li.appendChild(code);
        li.appendChild(forget);
        if (x.saved) {
          var when = document.createElement("span");
          when.className = "small muted";
          when.textContent = x.saved;
          li.appendChild(when);
        }
        list.appendChild(li);
      });
    }

    toggle.addEventListener("change", function () {
      if (toggle.checked) {
        store.setItem(ON, "1");
      } else {
        store.removeItem(ON);
        store.removeItem(TOKENS);
      }
      render();
    });
    box.hidden = false;
    render();
  }

  // Product page: fill the proofs field from the wallet.
  function productPage() {
    var btn = document.getElementById("wallet-fill");
    var field = document.getElementById("proofs");
    if (!btn || !field || !isOn()) { return; }
    var tokens = load();
    if (tokens.length === 0) { return; }
    btn.hidden = false;
    btn.addEventListener("click", function () {
      field.value = tokens.slice(0, 20).map(function (x) { return x.token; }).join("\n");
    });
  }

  function init() {
    if (!store) { return; }
    tokenPage();
    lookupPage();
    productPage();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
