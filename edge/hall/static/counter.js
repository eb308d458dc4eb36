// Counter keyboard shortcuts: a key (or a foot switch programmed to send it) presses the action's button, which
// markaz live.js sends to the node. Matched on the physical key (event.code) so an Arabic layout works the same.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.altKey || event.metaKey || event.repeat) { return; }
    var tag = (event.target && event.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") { return; }
    var button = document.querySelector('#screen button[data-key="' + event.code + '"]');
    if (!button) { return; }
    event.preventDefault();
    if (button.disabled) {
      var why = document.getElementById(button.getAttribute("aria-describedby") || "");
      if (why) { why.classList.add("flash"); }
      return;
    }
    if (button.getAttribute("data-action") === "transfer") { button.focus(); return; }  // then choose the service
    button.click();
  });
})();

// A pushed redraw replaces the buttons: keep the keyboard focus on the same control, so an officer who tabbed (or
// pressed T) to a button does not lose it when another counter's call redraws the screen.
(function () {
  "use strict";
  var last = null;
  document.addEventListener("focusin", function (event) {
    var t = event.target;
    if (t.id) { last = "#" + t.id; } else if (t.getAttribute("data-service")) {
      last = 'button[data-service="' + t.getAttribute("data-service") + '"]';
    }
  });
  var screen = document.getElementById("screen");
  if (!screen) { return; }
  new MutationObserver(function () {
    if (!last || (document.activeElement && document.activeElement !== document.body)) { return; }
    var again = screen.querySelector(last);
    if (again && !again.disabled) { again.focus(); }
  }).observe(screen, { childList: true });
})();
