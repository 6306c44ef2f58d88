// admin_chat.js: live chat for staff (progressive enhancement: without it,
// the room list is a plain page to reload and the ticket page's answer form
// writes to the same thread).
//  - On the room list (#rooms) it refreshes the rows every 10 s from
//    GET /api/v1/admin/rooms.
//  - On a chat page (#staff-chat) it joins the room with the staff member's
//    single-use secret over WebSocket and speaks the protocol of API.md:
//      client: {"type":"join","secret"} {"type":"msg","text"} {"type":"end"}
//      server: {"type":"joined"} {"type":"msg","from","text","at"}
//              {"type":"closed","reason"} {"type":"error","code","message"}
(function () {
  "use strict";

  var MAX_TEXT = 4096;
  var REFRESH_MS = 10000;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }

  // when shows an RFC 3339 UTC time as the server's pages do: in the shop's
  // time zone (tz) with its offset, "2026-12-04 00:01 UTC+08:00".
  function when(iso, tz) {
    if (!iso) { return ""; }
    var d = new Date(iso);
    if (tz && window.Intl && !isNaN(d.getTime())) {
      try {
        var parts = new Intl.DateTimeFormat("en-GB", {
          timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
          hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "longOffset"
        }).formatToParts(d);
        var p = {};
        for (var i = 0; i < parts.length; i++) { p[parts[i].type] = parts[i].value; }
        var off = (p.timeZoneName || "GMT").replace("GMT", "UTC");
        if (off === "UTC+00:00") { off = "UTC"; }
        return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + " " + off;
      } catch (e) { /* an old browser: UTC below */ }
    }
    return iso.replace("T", " ").replace(/(:\d\d)?Z$/, " UTC");
  }

  // The room list.
  function setupRooms(box) {
    var body = document.getElementById("rooms-body");
    var api = box.getAttribute("data-api");
    var csrf = box.getAttribute("data-csrf");
    var lang = box.getAttribute("data-lang");
    var tz = box.getAttribute("data-tz");
    if (!body || !api || !window.fetch) { return; }
    function t(name) { return box.getAttribute("data-t-" + name) || ""; }

    function row(r) {
      var tr = el("tr");
      tr.appendChild(el("td", "mono", r.ref));
      tr.appendChild(el("td", "small", when(r.opened_at, tz)));
      tr.appendChild(el("td", "", r.buyer_joined ? t("yes") : t("no")));
      var staff = el("td");
      if (r.staff_joined) {
        staff.textContent = t("yes");
      } else {
        staff.appendChild(el("span", "badge warn", t("no")));
      }
      tr.appendChild(staff);
      tr.appendChild(el("td", "small", when(r.last_activity, tz)));
      var td = el("td");
      var form = el("form", "inline");
      form.method = "post";
      form.action = "/admin/rooms/" + encodeURIComponent(r.id) + "/join?lang=" + encodeURIComponent(lang);
      var hidden = el("input");
      hidden.type = "hidden";
      hidden.name = "csrf";
      hidden.value = csrf;
      form.appendChild(hidden);
      var button = el("button", "btn small", t("join"));
      button.type = "submit";
      form.appendChild(button);
      td.appendChild(form);
      tr.appendChild(td);
      return tr;
    }

    function refresh() {
      fetch(api, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
        .then(function (res) { return res.ok ? res.json() : null; })
        .then(function (data) {
          if (!data || !data.rooms) { return; }
          while (body.firstChild) { body.removeChild(body.firstChild); }
          if (data.rooms.length === 0) {
            var tr = el("tr");
            var td = el("td", "empty", t("empty"));
            td.colSpan = 6;
            tr.appendChild(td);
            body.appendChild(tr);
          }
          for (var i = 0; i < data.rooms.length; i++) { body.appendChild(row(data.rooms[i])); }
        })
        .catch(function () { /* keep the rows shown; try again later */ });
    }
    setInterval(refresh, REFRESH_MS);
  }

  // A chat page.
  function setupChat(box) {
    var secret = box.getAttribute("data-secret");
    var path = box.getAttribute("data-ws");
    if (!secret || !path || !window.WebSocket || !window.TextEncoder) { return; }
    var statusEl = document.getElementById("chat-status");
    var errorEl = document.getElementById("chat-error");
    var log = document.getElementById("chat-log");
    var form = document.getElementById("chat-form");
    var text = document.getElementById("chat-text");
    var endBtn = document.getElementById("chat-end");
    var closed = false;
    function t(name) { return box.getAttribute("data-t-" + name) || ""; }
    var fromLabel = { buyer: t("buyer"), staff: t("staff"), system: t("system"), auto: t("auto") };

    function setStatus(s) { statusEl.textContent = s; }
    function showError(s) { errorEl.textContent = s; errorEl.hidden = !s; }

    var tz = box.getAttribute("data-tz");

    // The page shows the sealed thread, and the room replays its recent
    // messages on join: each line the page shows absorbs one replayed
    // frame with the same sender, second and text, so nothing shows twice.
    var shown = {};
    function key(from, at, body) { return from + "\n" + at + "\n" + body; }
    var rendered = log.querySelectorAll("li[data-from]");
    for (var i = 0; i < rendered.length; i++) {
      var p = rendered[i].querySelector("p");
      var k = key(rendered[i].getAttribute("data-from"), rendered[i].getAttribute("data-at"), p ? p.textContent : "");
      shown[k] = (shown[k] || 0) + 1;
    }

    function addMessage(from, body, at) {
      var k = key(from, at, body);
      if (shown[k]) {
        shown[k]--;
        return;
      }
      var li = el("li", "from-" + (fromLabel[from] ? from : "system"));
      li.appendChild(el("span", "who", fromLabel[from] || from));
      if (at) {
        li.appendChild(document.createTextNode(" "));
        var time = el("time", "small muted", when(at, tz));
        time.setAttribute("datetime", at);
        li.appendChild(time);
      }
      li.appendChild(el("p", "guide", body));
      log.appendChild(li);
      li.scrollIntoView({ block: "nearest" });
    }

    function finish(s) {
      closed = true;
      form.hidden = true;
      setStatus(s);
    }

    var scheme = location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(scheme + "//" + location.host + path);
    setStatus(t("connecting"));
    ws.onopen = function () { ws.send(JSON.stringify({ type: "join", secret: secret })); };
    ws.onmessage = function (ev) {
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      switch (f.type) {
        case "joined":
          setStatus(t("joined"));
          form.hidden = false;
          text.focus();
          break;
        case "msg":
          addMessage(f.from, f.text, f.at);
          break;
        case "closed":
          finish(t("closed"));
          break;
        case "error":
          showError(f.code === "too_large" ? t("too-long") : (f.message || t("error")));
          break;
      }
    };
    ws.onclose = function () { if (!closed) { finish(t("lost")); } };
    ws.onerror = function () { showError(t("lost")); };

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var s = text.value.trim();
      if (!s || closed) { return; }
      if (new TextEncoder().encode(s).length > MAX_TEXT) { showError(t("too-long")); return; }
      showError("");
      ws.send(JSON.stringify({ type: "msg", text: s }));
      text.value = "";
    });
    endBtn.addEventListener("click", function () {
      if (!closed) { ws.send(JSON.stringify({ type: "end" })); }
    });
  }

  function init() {
    var rooms = document.getElementById("rooms");
    if (rooms) { setupRooms(rooms); }
    var chat = document.getElementById("staff-chat");
    if (chat) { setupChat(chat); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
