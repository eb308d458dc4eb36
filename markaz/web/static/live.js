// markaz live screen: shows what the server pushes over a WebSocket and sends taps back. No logic of its own.
// Protocol: markaz/web/live.py. The socket URL is the page's <body data-live="/path">, same host as the page.
(function () {
  "use strict";
  var body = document.body;
  var path = body.getAttribute("data-live");
  var live = { connected: false, tapLatencies: [], screens: 0 };
  window.markazLive = live;
  if (!path) { return; }

  var socket = null;
  var retryMs = 250;
  var pendingTap = null;
  var offline = document.getElementById("offline");

  function url() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + location.host + path;
  }

  // What the user is typing survives an update: every field (by id) the user changed keeps its value, unless the
  // server changed that field's own default (then the server's wins); the focused one keeps its caret and focus.
  // A report page's forms can be half filled in when someone else's change redraws it.
  function edited(el) {
    if (el.type === "checkbox" || el.type === "radio") { return el.checked !== el.defaultChecked; }
    if (el.tagName === "SELECT") {
      for (var i = 0; i < el.options.length; i++) {
        if (el.options[i].selected !== el.options[i].defaultSelected) { return true; }
      }
      return false;
    }
    return "defaultValue" in el && el.type !== "submit" && el.type !== "hidden" && el.value !== el.defaultValue;
  }

  function server(el) {
    if (el.type === "checkbox" || el.type === "radio") { return String(el.defaultChecked); }
    if (el.tagName === "SELECT") {
      return Array.prototype.map.call(el.options, function (o) { return o.value + (o.defaultSelected ? "*" : ""); }).join("|");
    }
    return el.defaultValue;
  }

  function typing(screen) {
    var kept = { fields: [], focus: null };
    var el = document.activeElement;
    if (el && el.id && screen.contains(el) && "value" in el && el.type !== "submit") {
      kept.focus = { id: el.id, start: el.selectionStart, end: el.selectionEnd };
    }
    screen.querySelectorAll("input[id], textarea[id], select[id]").forEach(function (f) {
      if (edited(f) || (kept.focus && kept.focus.id === f.id)) {
        kept.fields.push({ id: f.id, value: f.value, checked: f.checked, server: server(f) });
      }
    });
    return kept;
  }

  function restore(kept) {
    kept.fields.forEach(function (k) {
      var f = document.getElementById(k.id);
      if (!f || server(f) !== k.server) { return; }
      if (f.type === "checkbox" || f.type === "radio") { f.checked = k.checked; } else { f.value = k.value; }
    });
    var el = kept.focus && document.getElementById(kept.focus.id);
    if (!el) { return false; }
    el.focus();
    try { el.setSelectionRange(kept.focus.start, kept.focus.end); } catch (e) { /* not a text field */ }
    return true;
  }

  function render(message) {
    var screen = document.getElementById("screen");
    var kept = typing(screen);
    screen.innerHTML = message.html;
    document.documentElement.lang = message.lang;
    document.documentElement.dir = message.dir;
    document.title = message.title;
    live.screens += 1;
    body.setAttribute("data-screen-count", String(live.screens));
    var first = screen.querySelector("[data-screen]");
    body.setAttribute("data-screen", first ? first.getAttribute("data-screen") : "");
    var focus = screen.querySelector("[autofocus]");
    if (!restore(kept) && focus) { focus.focus(); }
    if (pendingTap !== null) {
      live.tapLatencies.push(performance.now() - pendingTap);
      pendingTap = null;
    }
  }

  function connect() {
    socket = new WebSocket(url());
    socket.onopen = function () {
      live.connected = true;
      retryMs = 250;
      if (offline) { offline.hidden = true; }
      socket.send(JSON.stringify({ type: "hello" }));
    };
    socket.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message.type === "screen") { render(message); }
    };
    socket.onclose = function () {
      live.connected = false;
      if (offline) { offline.hidden = false; }
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 2000);
    };
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-action]");
    if (!target || !live.connected) { return; }  // without a socket, links (e.g. ?lang=en) work as links
    event.preventDefault();
    if (target.disabled || target.getAttribute("aria-disabled") === "true") { return; }
    var message = { type: "tap", action: target.getAttribute("data-action") };
    var value = target.getAttribute("data-value");
    if (value !== null) { message.value = value; }
    pendingTap = performance.now();
    socket.send(JSON.stringify(message));
  });

  connect();
})();
