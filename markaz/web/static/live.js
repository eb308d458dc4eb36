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

  // What the user is typing survives an update: the focused field (by id) keeps its value, caret and focus,
  // unless the server changed that field's own value (then the server's wins).
  function typing(screen) {
    var el = document.activeElement;
    if (!el || !el.id || !screen.contains(el) || !("defaultValue" in el) || el.type === "submit") { return null; }
    return { id: el.id, value: el.value, server: el.defaultValue, start: el.selectionStart, end: el.selectionEnd };
  }

  function restore(kept) {
    var el = kept && document.getElementById(kept.id);
    if (!el) { return false; }
    if (el.defaultValue === kept.server) { el.value = kept.value; }
    el.focus();
    try { el.setSelectionRange(kept.start, kept.end); } catch (e) { /* not a text field */ }
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
