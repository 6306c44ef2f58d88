// chat.js: the live support chat on the order page (progressive
// enhancement: without it, the message form on the same page reaches the
// same thread). It opens a one-time room with POST /api/v1/order/chat (the
// token as a Bearer credential, never in a URL), joins it over WebSocket
// with the single-use secret and speaks the protocol of API.md:
//   client: {"type":"join","secret"} {"type":"msg","text"} {"type":"end"}
//   server: {"type":"joined"} {"type":"msg","from","text","at"}
//           {"type":"closed","reason"} {"type":"error","code","message"}
(function () {
  "use strict";

  // The server refuses a text over 4096 bytes and a frame over 1 KiB more;
  // check before sending so the buyer gets a clear message, not a drop.
  var MAX_TEXT = 4096;
  var MAX_FRAME = MAX_TEXT + 1024;

  function byteLength(s) {
    return new TextEncoder().encode(s).length;
  }

  // when shows an RFC 3339 UTC time as the server's pages do: in the shop's
  // time zone (tz) with its offset, "2026-12-04 00:01 UTC+08:00".
  function when(iso, tz) {
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

  function init() {
    var box = document.getElementById("chat");
    if (!box || !window.WebSocket || !window.fetch || !window.TextEncoder) { return; }
    var tokenField = document.getElementById(box.getAttribute("data-token-field"));
    if (!tokenField) { return; }
    var token = tokenField.value;
    var startBtn = document.getElementById("chat-start");
    var endOldBtn = document.getElementById("chat-end-old");
    var statusEl = document.getElementById("chat-status");
    var errorEl = document.getElementById("chat-error");
    var log = document.getElementById("chat-log");
    var form = document.getElementById("chat-form");
    var text = document.getElementById("chat-text");
    var endBtn = document.getElementById("chat-end");
    var ws = null;
    var closed = false;

    function t(name) { return box.getAttribute("data-t-" + name) || ""; }

    function setStatus(s) { statusEl.textContent = s; }

    function showError(s) {
      errorEl.textContent = s;
      errorEl.hidden = !s;
    }

    var fromLabel = { buyer: t("you"), staff: t("staff"), system: t("system"), auto: t("auto") };

    function addMessage(from, body, at) {
      var li = document.createElement("li");
      li.className = "from-" + (fromLabel[from] ? from : "system");
      var who = document.createElement("span");
      who.className = "who";
      who.textContent = fromLabel[from] || from;
      li.appendChild(who);
      if (at) {
        li.appendChild(document.createTextNode(" "));
        var time = document.createElement("time");
        time.className = "small muted";
        time.setAttribute("datetime", at);
        time.textContent = when(at, box.getAttribute("data-tz"));
        li.appendChild(time);
      }
      var p = document.createElement("p");
      p.className = "guide";
      p.textContent = body;
      li.appendChild(p);
      log.appendChild(li);
      log.hidden = false;
      li.scrollIntoView({ block: "nearest" });
    }

    function finish(statusText) {
      closed = true;
      form.hidden = true;
      startBtn.hidden = false;
      startBtn.disabled = false;
      setStatus(statusText);
    }

    function api(body) {
      return fetch("/api/v1/order/chat", {
        method: "POST",
        headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
        body: JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
        referrerPolicy: "no-referrer"
      }).then(function (res) {
        return res.json().then(function (data) { return { status: res.status, data: data }; },
          function () { return { status: res.status, data: {} }; });
      });
    }

    function explain(data) {
      var code = data && data.error ? data.error.code : "";
      switch (code) {
        case "room_open": return t("room-open");
        case "too_many_rooms": return t("too-many");
        default: return t("error") + (data && data.error ? " (" + data.error.message + ")" : "");
      }
    }

    function join(room) {
      var scheme = location.protocol === "https:" ? "wss:" : "ws:";
      ws = new WebSocket(scheme + "//" + location.host + room.ws_path);
      closed = false;
      setStatus(t("connecting"));
      ws.onopen = function () {
        ws.send(JSON.stringify({ type: "join", secret: room.join_secret }));
      };
      ws.onmessage = function (ev) {
        var f;
        try { f = JSON.parse(ev.data); } catch (e) { return; }
        switch (f.type) {
          case "joined":
            setStatus(t("waiting"));
            startBtn.hidden = true;
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
            // An error frame names its code; a too_large or rate_limited
            // one leaves the room working.
            showError(f.code === "too_large" ? t("too-long") : (f.message || t("error")));
            break;
        }
      };
      ws.onclose = function () {
        if (!closed) { finish(t("lost")); }
        ws = null;
      };
      ws.onerror = function () {
        showError(t("lost"));
      };
    }

    function start() {
      showError("");
      endOldBtn.hidden = true;
      startBtn.disabled = true;
      api({}).then(function (res) {
        startBtn.disabled = false;
        if (res.status === 201) {
          join(res.data);
          return;
        }
        showError(explain(res.data));
        if (res.data && res.data.error && res.data.error.code === "room_open") {
          endOldBtn.hidden = false;
        }
      }, function () {
        startBtn.disabled = false;
        showError(t("lost"));
      });
    }

    startBtn.addEventListener("click", start);

    endOldBtn.addEventListener("click", function () {
      endOldBtn.disabled = true;
      api({ end: true }).then(function (res) {
        endOldBtn.disabled = false;
        if (res.status === 200) {
          endOldBtn.hidden = true;
          start();
        } else {
          showError(explain(res.data));
        }
      }, function () {
        endOldBtn.disabled = false;
        showError(t("lost"));
      });
    });

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var s = text.value.replace(/\r\n?/g, "\n");
      if (!s.trim() || !ws || ws.readyState !== WebSocket.OPEN) { return; }
      var frame = JSON.stringify({ type: "msg", text: s });
      if (byteLength(s) > MAX_TEXT || byteLength(frame) > MAX_FRAME) {
        showError(t("too-long"));
        return;
      }
      showError("");
      ws.send(frame);
      text.value = "";
    });

    endBtn.addEventListener("click", function () {
      if (ws && ws.readyState === WebSocket.OPEN) {
        ws.send(JSON.stringify({ type: "end" }));
      }
    });

    box.hidden = false;
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
